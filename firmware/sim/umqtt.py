"""umqtt.simple's MQTTClient for CPython, so the simulator runs the board's own link code.

Same constructor, methods and blocking behaviour as micropython-lib's `umqtt.simple` (1.4):
connect() waits for CONNACK, subscribe() for SUBACK, a QoS 1 publish() for PUBACK, while
wait_msg()/check_msg() deliver PUBLISH packets to the callback as (topic: bytes, msg: bytes)
and acknowledge QoS 1 ones. MQTT 3.1.1 (OASIS standard, 2014) over a CPython socket; `ssl` is
an `ssl.SSLContext`, used with SNI exactly as the board's build uses its own.
"""

from __future__ import annotations

import select
import socket
import struct
from collections.abc import Callable
from typing import Any


class MQTTException(Exception):
    pass


def _encode_str(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else bytes(value)
    return struct.pack("!H", len(data)) + data


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class MQTTClient:
    def __init__(
        self,
        client_id: str | bytes,
        server: str,
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        keepalive: int = 0,
        ssl: Any = None,
    ) -> None:
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.sock: socket.socket | None = None
        self.cb: Callable[[bytes, bytes], None] | None = None
        self.pid = 0
        self.lw_topic: str | bytes | None = None
        self.lw_msg: str | bytes | None = None
        self.lw_qos = 0
        self.lw_retain = False
        self.timeout = 10.0

    # -- socket helpers ------------------------------------------------------------------

    def _read(self, n: int) -> bytes:
        assert self.sock is not None
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError(-1, "connection closed by the broker")
            buf += chunk
        return buf

    def _write(self, data: bytes) -> None:
        if self.sock is None:
            raise OSError(9, "not connected")
        self.sock.sendall(data)

    def _recv_len(self) -> int:
        n = 0
        shift = 0
        while True:
            b = self._read(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7
            if shift > 21:
                raise MQTTException("bad remaining length")

    def _next_pid(self) -> int:
        self.pid = self.pid % 65535 + 1
        return self.pid

    # -- umqtt.simple API ----------------------------------------------------------------

    def set_callback(self, f: Callable[[bytes, bytes], None]) -> None:
        self.cb = f

    def set_last_will(
        self, topic: str | bytes, msg: str | bytes, retain: bool = False, qos: int = 0
    ) -> None:
        assert 0 <= qos <= 2
        assert topic
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def connect(self, clean_session: bool = True, timeout: float | None = None) -> bool:
        sock = socket.create_connection((self.server, self.port), timeout=timeout or self.timeout)
        if self.ssl:
            sock = self.ssl.wrap_socket(sock, server_hostname=self.server)
        self.sock = sock
        self.sock.settimeout(timeout or self.timeout)
        flags = 0x02 if clean_session else 0
        payload = _encode_str(self.client_id)
        if self.lw_topic:
            flags |= 0x04 | (self.lw_qos & 1) << 3 | (self.lw_qos & 2) << 3
            flags |= 0x20 if self.lw_retain else 0
            payload += _encode_str(self.lw_topic) + _encode_str(self.lw_msg or b"")
        if self.user is not None:
            flags |= 0x80
            payload += _encode_str(self.user)
            if self.pswd is not None:
                flags |= 0x40
                payload += _encode_str(self.pswd)
        variable = _encode_str(b"MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive)
        body = variable + payload
        self._write(b"\x10" + _remaining_length(len(body)) + body)
        resp = self._read(4)
        if resp[0] != 0x20 or resp[1] != 0x02:
            raise MQTTException("bad CONNACK")
        if resp[3] != 0:
            raise MQTTException(resp[3])
        return bool(resp[2] & 1)

    def disconnect(self) -> None:
        try:
            self._write(b"\xe0\x00")
        finally:
            self._close()

    def _close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def ping(self) -> None:
        self._write(b"\xc0\x00")

    def publish(
        self, topic: str | bytes, msg: str | bytes, retain: bool = False, qos: int = 0
    ) -> None:
        data = msg.encode() if isinstance(msg, str) else bytes(msg)
        body = _encode_str(topic)
        pid = 0
        if qos > 0:
            pid = self._next_pid()
            body += struct.pack("!H", pid)
        body += data
        header = 0x30 | qos << 1 | (1 if retain else 0)
        self._write(bytes([header]) + _remaining_length(len(body)) + body)
        if qos == 1:
            while True:
                op = self.wait_msg()
                if op == 0x40:
                    size = self._read(1)[0]
                    assert size == 2
                    if struct.unpack("!H", self._read(2))[0] == pid:
                        return
        elif qos == 2:
            raise MQTTException("QoS 2 is not supported")

    def subscribe(self, topic: str | bytes, qos: int = 0) -> None:
        assert self.cb is not None, "Subscribe callback is not set"
        pid = self._next_pid()
        body = struct.pack("!H", pid) + _encode_str(topic) + bytes([qos])
        self._write(b"\x82" + _remaining_length(len(body)) + body)
        while True:
            op = self.wait_msg()
            if op == 0x90:
                resp = self._read(4)
                if struct.unpack("!H", resp[1:3])[0] != pid:
                    continue
                if resp[3] == 0x80:
                    raise MQTTException(resp[3])
                return

    def wait_msg(self) -> int | None:
        """Read one packet (blocking); PUBLISH goes to the callback. None for PINGRESP."""
        res = self._read(1)
        op = res[0]
        if op == 0xD0:  # PINGRESP
            if self._read(1)[0] != 0:
                raise MQTTException("bad PINGRESP")
            return None
        if op & 0xF0 != 0x30:
            return op
        size = self._recv_len()
        topic_len = struct.unpack("!H", self._read(2))[0]
        topic = self._read(topic_len)
        size -= topic_len + 2
        pid = 0
        if op & 6:
            pid = struct.unpack("!H", self._read(2))[0]
            size -= 2
        msg = self._read(size)
        if self.cb is not None:
            self.cb(topic, msg)
        if op & 6 == 2:
            self._write(b"\x40\x02" + struct.pack("!H", pid))
        elif op & 6 == 4:
            raise MQTTException("QoS 2 is not supported")
        return op

    def check_msg(self) -> int | None:
        """Like wait_msg() when a packet is waiting; None at once otherwise."""
        if self.sock is None:
            raise OSError(9, "not connected")
        pending = getattr(self.sock, "pending", None)
        if pending is not None and pending():
            return self.wait_msg()  # TLS may hold decrypted bytes the socket no longer shows
        ready, _, _ = select.select([self.sock], [], [], 0)
        if not ready:
            return None
        return self.wait_msg()
