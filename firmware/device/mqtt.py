# A small non-blocking MQTT 3.1.1 client on asyncio streams, in the spirit of mqtt_as
# (peterhinch/micropython-mqtt): QoS 0 and 1, keepalive proven by PINGREQ/PINGRESP, a Last
# Will, and a timeout on every wait, so the frame loop keeps running while the link connects,
# stalls or dies.
#
# The same code runs on the ESP32 (asyncio.open_connection with an ssl.SSLContext, MicroPython
# v1.22+: the TLS handshake then advances non-blocking) and on CPython in the simulator
# (asyncio.open_connection with an ssl.SSLContext). Tests inject open_connection to feed
# scripted broker byte streams.
import asyncio

from clock import ticks_diff, ticks_ms

try:
    sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython

    def sleep_ms(ms):
        return asyncio.sleep(ms / 1000)


CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82  # fixed header flags 0010 (MQTT 3.1.1 section 3.8.1)
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

MAX_PACKET = 20480  # shadow documents are at most 8 KB of state; anything far bigger is bogus
MAX_OUTBOX = 16  # queued publishes; beyond this the link is reset and resynced instead
POLL_MS = 10  # how often a wait looks at its condition


class MQTTError(Exception):
    pass


def encode_length(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_str(s):
    if type(s) is str:
        s = s.encode()
    return bytes((len(s) >> 8, len(s) & 0xFF)) + s


def packet(first, body):
    return bytes((first,)) + encode_length(len(body)) + body


def connect_packet(client_id, keepalive, user=None, password=None, will=None, clean=True):
    flags = 0x02 if clean else 0
    payload = encode_str(client_id)
    if will is not None:
        topic, msg, retain, qos = will
        # Will flag, QoS and retain (MQTT 3.1.1 section 3.1.2.5-3.1.2.7)
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += encode_str(topic) + encode_str(msg)
    if user is not None:
        flags |= 0x80
        payload += encode_str(user)
        if password is not None:
            flags |= 0x40
            payload += encode_str(password)
    head = encode_str("MQTT") + bytes((4, flags, keepalive >> 8, keepalive & 0xFF))
    return packet(CONNECT, head + payload)


def publish_packet(topic, msg, qos=0, retain=False, pid=0, dup=False):
    if type(msg) is str:
        msg = msg.encode()  # the length field counts bytes, not characters
    first = PUBLISH | (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = encode_str(topic)
    if qos:
        body += bytes((pid >> 8, pid & 0xFF))
    return packet(first, body + msg)


def subscribe_packet(pid, topic, qos):
    return packet(SUBSCRIBE, bytes((pid >> 8, pid & 0xFF)) + encode_str(topic) + bytes((qos,)))


def pid_packet(first, pid):
    return bytes((first, 2, pid >> 8, pid & 0xFF))


def parse_publish(first, body):
    """(topic, msg, qos, pid) of a PUBLISH packet's variable header and payload."""
    n = (body[0] << 8) | body[1]
    topic = bytes(body[2 : 2 + n])
    i = 2 + n
    qos = (first >> 1) & 3
    pid = 0
    if qos:
        pid = (body[i] << 8) | body[i + 1]
        i += 2
    return topic, bytes(body[i:]), qos, pid


class Timeout(MQTTError):
    pass


async def until(cond, ms, what):
    """Wait until cond() is true, at most ms. Polling, as mqtt_as does: asyncio.wait_for is
    missing or broken on some ports (the WebAssembly port's never returns when the awaited
    coroutine finishes first)."""
    start = ticks_ms()
    pause = 0  # 0, 1, 3, 7 ms, then every POLL_MS: what is ready at once costs one yield
    while not cond():
        if ticks_diff(ticks_ms(), start) >= ms:
            raise Timeout("no " + what + " within " + str(ms) + " ms")
        await sleep_ms(pause)
        pause = pause * 2 + 1 if pause < POLL_MS else POLL_MS


async def within(coro, ms, what):
    """Run a coroutine to completion in at most ms; on timeout it is cancelled."""
    task = asyncio.create_task(coro)
    try:
        await until(task.done, ms, what)
    except Timeout:
        task.cancel()
        raise
    return await task


async def _drain(writer):
    await writer.drain()


class MQTTClient:
    def __init__(
        self,
        client_id,
        server,
        port=1883,
        user=None,
        password=None,
        keepalive=60,
        ssl=None,
        server_hostname=None,
        open_connection=None,
        timeout_ms=10000,
    ):
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.ssl = ssl
        # SNI: AWS IoT Core picks the account's endpoint by it (and refuses without it).
        self.server_hostname = server_hostname or server
        self.open_connection = open_connection  # None: asyncio.open_connection
        self.timeout_ms = timeout_ms
        # PINGREQ well inside the keepalive (the broker allows 1.5x, MQTT 3.1.1 section
        # 3.1.2.10) but not more often than every 30 s, the rate AWS IoT pings at no charge:
        # 30 s at the default keepalive of 45 s.
        self.ping_ms = max(keepalive * 500, min(30000, keepalive * 667))
        self.cb = None
        self.will = None
        self.reader = None
        self.writer = None
        self.connected = False
        self.closed = asyncio.Event()
        self.why = None  # why the link ended
        self.pid = 0
        self.acks = {}  # packet id -> None while waiting, then 0 (PUBACK) or the SUBACK code
        self.connack = None
        self.pong = False
        self.outbox = []
        self.out_ready = asyncio.Event()
        self.lock = asyncio.Lock()
        self.tasks = []
        self.pings = 0
        self.received = 0

    def set_callback(self, f):
        self.cb = f  # f(topic: bytes, msg: bytes), called on the reader task

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.will = (topic, msg, retain, qos)

    def next_pid(self):
        self.pid = self.pid % 65535 + 1  # 0 is not a valid packet identifier (section 2.3.1)
        return self.pid

    # -- connection -----------------------------------------------------------------------

    async def connect(self, clean=True):
        kw = {}
        if self.ssl is not None:
            kw["ssl"] = self.ssl
            kw["server_hostname"] = self.server_hostname
        opener = self.open_connection or asyncio.open_connection
        self.reader, self.writer = await within(
            opener(self.server, self.port, **kw), self.timeout_ms, "connection"
        )
        self.connack = None
        self.tasks = [asyncio.create_task(self._read_loop())]
        try:
            await self._send(
                connect_packet(
                    self.client_id, self.keepalive, self.user, self.password, self.will, clean
                )
            )
            await until(self._answered, self.timeout_ms, "CONNACK")
            if self.connack is None:
                raise MQTTError("link lost before CONNACK: " + str(self.why))
            if self.connack != 0:
                # 1..5: protocol, identifier, unavailable, credentials, not authorised (3.2.2.3)
                raise MQTTError("connection refused, code " + str(self.connack))
        except BaseException:
            self.close("connect failed")
            raise
        self.connected = True
        self.tasks.append(asyncio.create_task(self._ping_loop()))
        self.tasks.append(asyncio.create_task(self._send_loop()))

    def _answered(self):
        return self.connack is not None or self.why is not None

    async def wait_closed(self):
        """Return once the link has ended; the reason is in self.why."""
        await self.closed.wait()
        return self.why

    def close(self, why="closed"):
        """Drop the link without DISCONNECT: the broker publishes the Last Will."""
        if self.why is None:
            self.why = why
        was = self.connected
        self.connected = False
        me = None
        try:
            me = asyncio.current_task()
        except Exception:
            pass
        for t in self.tasks:
            if t is not me:
                t.cancel()
        self.tasks = []
        self._close_stream()
        self.closed.set()
        return was

    async def disconnect(self):
        """Clean end (MQTT 3.1.1 section 3.14): the broker discards the Last Will."""
        try:
            await self._send(bytes((DISCONNECT, 0)))
        except Exception:
            pass
        self.close("disconnected")

    def _close_stream(self):
        w = self.writer
        self.writer = None
        if w is not None:
            try:
                w.close()
            except Exception:
                pass

    # -- sending --------------------------------------------------------------------------

    async def _send(self, data):
        w = self.writer
        if w is None:
            raise MQTTError("not connected")
        async with self.lock:
            w.write(data)
            await within(_drain(w), self.timeout_ms, "drain")

    async def _send_loop(self):
        try:
            while True:
                await self.out_ready.wait()
                self.out_ready.clear()
                while self.outbox:
                    await self._send(self.outbox.pop(0))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.close("send failed: " + repr(e))

    def publish_nowait(self, topic, msg, retain=False):
        """Queue a QoS 0 publish; safe from inside the message callback."""
        if not self.connected:
            return False
        if len(self.outbox) >= MAX_OUTBOX:
            self.close("outbox full")
            return False
        self.outbox.append(publish_packet(topic, msg, 0, retain))
        self.out_ready.set()
        return True

    async def publish(self, topic, msg, retain=False, qos=0):
        if qos == 0:
            await self._send(publish_packet(topic, msg, 0, retain))
            return
        pid = self.next_pid()
        self.acks[pid] = None
        try:
            # One retransmission with DUP (section 4.4) before the link is declared dead.
            for dup in (False, True):
                await self._send(publish_packet(topic, msg, qos, retain, pid, dup))
                try:
                    await until(lambda: self.acks[pid] is not None or self.why, self.timeout_ms,
                                "PUBACK")  # fmt: skip
                except Timeout:
                    continue
                if self.why is not None:
                    raise MQTTError("link lost: " + self.why)
                return
        finally:
            self.acks.pop(pid, None)
        self.close("no PUBACK")
        raise MQTTError("no PUBACK")

    async def subscribe(self, topic, qos=0):
        pid = self.next_pid()
        self.acks[pid] = None
        try:
            await self._send(subscribe_packet(pid, topic, qos))
            try:
                await until(lambda: self.acks[pid] is not None or self.why, self.timeout_ms,
                            "SUBACK")  # fmt: skip
            except Timeout:
                self.close("no SUBACK")
                raise
            code = self.acks[pid]
        finally:
            self.acks.pop(pid, None)
        if self.why is not None:
            raise MQTTError("link lost: " + self.why)
        if code == 0x80:
            raise MQTTError("subscription refused: " + topic)
        return code

    # -- receiving ------------------------------------------------------------------------

    async def _read_packet(self):
        r = self.reader
        if r is None:
            raise MQTTError("not connected")
        first = (await r.readexactly(1))[0]
        n = 0
        shift = 0
        while True:
            b = (await r.readexactly(1))[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 21:  # at most four length bytes (section 2.2.3)
                raise MQTTError("malformed remaining length")
        if n > MAX_PACKET:
            raise MQTTError("packet too large: " + str(n))
        body = await r.readexactly(n) if n else b""
        return first, body

    async def _read_loop(self):
        try:
            while True:
                first, body = await self._read_packet()
                self._dispatch(first, body)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # EOF, reset, malformed packet: the link is gone
            self.close("read failed: " + repr(e))

    def _dispatch(self, first, body):
        kind = first & 0xF0
        if kind == PUBLISH:
            topic, msg, qos, pid = parse_publish(first, body)
            if qos == 1:
                self.outbox.append(pid_packet(PUBACK, pid))
                self.out_ready.set()
            self.received += 1
            if self.cb is not None:
                self.cb(topic, msg)
        elif kind == CONNACK:
            self.connack = body[1] if len(body) == 2 else 0xFF
        elif kind == PUBACK or kind == SUBACK:
            pid = (body[0] << 8) | body[1]
            if pid in self.acks:
                self.acks[pid] = (body[2] if len(body) > 2 else 0x80) if kind == SUBACK else 0
        elif kind == PINGRESP:
            self.pong = True
        else:
            raise MQTTError("unexpected packet " + hex(first))

    def _ponged(self):
        return self.pong or self.why is not None

    async def _ping_loop(self):
        # An answer within the timeout proves the link without touching the shadow.
        try:
            while True:
                await sleep_ms(self.ping_ms)
                self.pong = False
                await self._send(bytes((PINGREQ, 0)))
                try:
                    await until(self._ponged, self.timeout_ms, "PINGRESP")
                except Timeout:
                    self.close("no PINGRESP")
                    return
                if not self.connected:
                    return
                self.pings += 1
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.close("ping failed: " + repr(e))
