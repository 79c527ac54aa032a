"""A small asyncio MQTT 3.1.1 client (QoS 0/1).

localcloud uses it to run the shadow service and the rules against an external broker
(`--mqtt-url`), and the throughput benchmark drives a thousand of them from one process, which a
thread-per-client library could not do on two cores.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from localcloud import mqtt

MessageHandler = Callable[[str, bytes], None]


class ConnectionRefused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"CONNACK return code {code}")
        self.code = code


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """(host, port, username, password) of `mqtt://[user:password@]host[:port]`."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"not an mqtt:// URL: {url!r}")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname or "127.0.0.1", parts.port or 1883, username, password


class MQTTClient(asyncio.Protocol):
    def __init__(
        self,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 60,
        clean_session: bool = True,
        will: tuple[str, bytes, int] | None = None,
        on_message: MessageHandler | None = None,
        quickack: bool = False,
    ) -> None:
        self.client_id = client_id
        self.quickack = quickack
        self._sock: socket.socket | None = None
        self.username = username
        self.password = password
        self.keepalive = keepalive
        self.clean_session = clean_session
        self.will = will
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.decoder = mqtt.Decoder()
        self._ids = itertools.cycle(range(1, 65536))
        self._waiting: dict[tuple[int, int], asyncio.Future[object]] = {}
        self._connack: asyncio.Future[int] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[None] | None = None
        # While handling received data, writes are gathered and sent with one syscall: the
        # shadow service answers each request with several messages on this one connection.
        self._outbox: list[bytes] | None = None

    async def connect(self, host: str, port: int, timeout: float = 10.0,
                      tls: ssl.SSLContext | None = None) -> None:
        """`tls`: connect over TLS with this context (a client certificate in it for the
        TLS listener)."""
        loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        self.closed = loop.create_future()
        await asyncio.wait_for(
            loop.create_connection(lambda: self, host, port, ssl=tls,
                                   server_hostname=host if tls is not None else None),
            timeout)
        will_topic, will_payload, will_qos = self.will or (None, b"", 0)
        self._write(
            mqtt.connect(
                self.client_id,
                keepalive=self.keepalive,
                clean_session=self.clean_session,
                username=self.username,
                password=self.password,
                will_topic=will_topic,
                will_payload=will_payload,
                will_qos=will_qos,
            )
        )
        code = await asyncio.wait_for(self._connack, timeout)
        if code != mqtt.ACCEPTED:
            self.abort()
            raise ConnectionRefused(code)
        if self.keepalive:
            self._pinger = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        # §3.1.2.10: send something within every keepalive period; half of it leaves margin.
        while True:
            await asyncio.sleep(self.keepalive / 2)
            self._write(mqtt.PINGREQ_PACKET)

    # --- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock

    def data_received(self, data: bytes) -> None:
        if self.quickack and self._sock is not None:
            # Mosquitto leaves Nagle on by default (set_tcp_nodelay false): its next small
            # segment waits for our ACK, which Linux delays up to 40 ms. Acknowledge at once;
            # the kernel clears TCP_QUICKACK again by itself, hence after every read.
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self._outbox = []
        try:
            self._handle(data)
        finally:
            outbox, self._outbox = self._outbox, None
            if outbox:
                self._write(b"".join(outbox))

    def _handle(self, data: bytes) -> None:
        for packet in self.decoder.feed(data):
            kind = packet.kind
            if kind == mqtt.PUBLISH:
                topic, payload, qos, packet_id, _ = mqtt.parse_publish(packet.flags, packet.body)
                if qos == 1:
                    self._write(mqtt.puback(packet_id))
                if self.on_message is not None:
                    self.on_message(topic, payload)
            elif kind == mqtt.CONNACK:
                if self._connack is not None and not self._connack.done():
                    self._connack.set_result(packet.body[1])
            elif kind in (mqtt.SUBACK, mqtt.PUBACK, mqtt.UNSUBACK):
                future = self._waiting.pop((kind, mqtt.packet_id_of(packet.body)), None)
                if future is not None and not future.done():
                    future.set_result(list(packet.body[2:]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._waiting.clear()
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(ConnectionError("connection closed before CONNACK"))
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    # --- operations -----------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._outbox is not None:
            self._outbox.append(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _expect(self, kind: int, packet_id: int) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting[(kind, packet_id)] = future
        return future

    async def subscribe(self, filters: list[tuple[str, int]], timeout: float = 10.0) -> list[int]:
        """Subscribe and return the granted QoS per filter (0x80 = refused)."""
        packet_id = next(self._ids)
        future = self._expect(mqtt.SUBACK, packet_id)
        self._write(mqtt.subscribe(packet_id, filters))
        return await asyncio.wait_for(future, timeout)  # type: ignore[return-value]

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Send a PUBLISH without waiting (QoS 1 acknowledgements are not awaited)."""
        packet_id = next(self._ids) if qos else 0
        self._write(mqtt.publish(topic, payload, qos, packet_id, retain=retain))

    async def publish_acked(self, topic: str, payload: bytes, timeout: float = 10.0) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        packet_id = next(self._ids)
        future = self._expect(mqtt.PUBACK, packet_id)
        self._write(mqtt.publish(topic, payload, 1, packet_id))
        await asyncio.wait_for(future, timeout)

    async def disconnect(self) -> None:
        self._write(mqtt.DISCONNECT_PACKET)
        if self.transport is not None:
            self.transport.close()
        if self.closed is not None:
            await asyncio.shield(self.closed)

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT (the broker then sends the Last Will)."""
        if self.transport is not None:
            self.transport.abort()
