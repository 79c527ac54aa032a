# Scripted MQTT broker byte streams for the firmware's client, on asyncio (MicroPython and
# CPython). Stream is one TCP connection seen from the client: the test feeds the bytes the
# broker sends and reads back the bytes the client wrote. Broker answers CONNECT, SUBSCRIBE,
# PUBLISH QoS 1 and PINGREQ from the client's own bytes, decoded here independently of the
# client's encoder, and can go down, fall silent or drop the connection.
import asyncio

try:
    sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython

    def sleep_ms(ms):
        return asyncio.sleep(ms / 1000)


class Stream:
    """Reader and writer of one connection (asyncio.open_connection's pair, both roles)."""

    def __init__(self, on_write=None):
        self.buf = b""
        self.eof = False
        self.ready = asyncio.Event()
        self.written = b""
        self.closed = False
        self.on_write = on_write

    # broker side
    def feed(self, data):
        self.buf += data
        self.ready.set()

    def feed_eof(self):
        self.eof = True
        self.ready.set()

    # client side
    async def readexactly(self, n):
        while len(self.buf) < n:
            if self.eof or self.closed:
                raise EOFError("connection closed")
            self.ready.clear()
            await self.ready.wait()
        out = self.buf[:n]
        self.buf = self.buf[n:]
        return out

    def write(self, data):
        if self.closed:
            raise OSError(9)  # EBADF
        self.written += bytes(data)
        if self.on_write is not None:
            self.on_write(self)

    async def drain(self):
        if self.closed:
            raise OSError(104)

    def close(self):
        self.closed = True
        self.ready.set()


def scripted(*streams):
    """An open_connection that hands out the given streams in order (then refuses)."""
    calls = []

    async def open_connection(host, port, ssl=None, server_hostname=None):
        calls.append((host, port, ssl, server_hostname))
        if not streams[len(calls) - 1 :]:
            raise OSError(111)  # ECONNREFUSED
        return streams[len(calls) - 1], streams[len(calls) - 1]

    return open_connection, calls


def read_packet(data):
    """(first byte, body, rest) of the first complete packet in data, or None."""
    if len(data) < 2:
        return None
    n = 0
    mult = 1
    i = 1
    while True:
        if i >= len(data):
            return None
        b = data[i]
        n += (b & 127) * mult
        mult *= 128
        i += 1
        if not b & 128:
            break
    if len(data) < i + n:
        return None
    return data[0], data[i : i + n], data[i + n :]


def field(body, i):
    n = body[i] * 256 + body[i + 1]
    return body[i + 2 : i + 2 + n], i + 2 + n


def encode(first, body):
    out = bytes((first,))
    n = len(body)
    while True:
        b = n % 128
        n //= 128
        out += bytes((b | 128 if n else b,))
        if not n:
            return out + body


def publish(topic, payload, qos=0, pid=1):
    if type(topic) is str:
        topic = topic.encode()
    if type(payload) is str:
        payload = payload.encode()
    body = bytes((len(topic) // 256, len(topic) % 256)) + topic
    if qos:
        body += bytes((pid // 256, pid % 256))
    return encode(0x30 | (qos * 2), body + payload)


class Broker:
    """A broker behind open_connection: decodes the client's packets and answers them."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.down = False  # open_connection refuses
        self.silent = False  # accepts the connection and the bytes, never answers
        self.answer_pings = True
        self.delay_ms = 0  # answers arrive this late
        self.connack = 0
        self.refuse_topics = ()
        self.streams = []
        self.connects = []  # one dict per CONNECT: client_id, keepalive, will, user, clean
        self.opens = []  # (host, port, ssl, server_hostname) per open_connection
        self.subscriptions = []  # (topic, qos)
        self.published = []  # (topic, payload, qos, retain)
        self.pubacks = []  # packet ids the client acknowledged
        self.pings = 0
        self.disconnects = 0
        self.pid = 100
        self.handlers = {}  # topic -> fn(broker, payload) answering a request

    async def open_connection(self, host, port, ssl=None, server_hostname=None):
        self.opens.append((host, port, ssl, server_hostname))
        if self.down:
            raise OSError(113)  # EHOSTUNREACH
        s = Stream(self._on_write)
        self.streams.append(s)
        return s, s

    def answer(self, s, data):
        if not self.delay_ms:
            s.feed(data)
            return

        async def later():
            await sleep_ms(self.delay_ms)
            s.feed(data)

        asyncio.create_task(later())

    def current(self):
        return self.streams[-1] if self.streams else None

    def online(self):
        s = self.current()
        return s is not None and not s.closed and not s.eof

    def drop(self):
        """The TCP connection dies (reset by the network)."""
        for s in self.streams:
            s.feed_eof()

    def send(self, topic, payload, qos=0):
        s = self.current()
        if s is not None and not s.closed:
            self.pid += 1
            self.answer(s, publish(topic, payload, qos, self.pid))

    def sent(self, topic):
        return [p.decode() for (t, p, q, r) in self.published if t == topic]

    def _on_write(self, s):
        while True:
            got = read_packet(s.written)
            if got is None:
                return
            first, body, rest = got
            s.written = rest
            self._handle(s, first, body)

    def _handle(self, s, first, body):
        kind = first & 0xF0
        if kind == 0x10:  # CONNECT
            name, i = field(body, 0)
            level = body[i]
            flags = body[i + 1]
            keepalive = body[i + 2] * 256 + body[i + 3]
            cid, i = field(body, i + 4)
            will = None
            if flags & 4:
                wt, i = field(body, i)
                wm, i = field(body, i)
                will = [wt.decode(), wm.decode(), (flags >> 3) & 3, bool(flags & 32)]
            user = None
            if flags & 128:
                user, i = field(body, i)
                user = user.decode()
            self.connects.append(
                {"protocol": [name.decode(), level], "client_id": cid.decode(),
                 "keepalive": keepalive, "will": will, "user": user,
                 "clean": bool(flags & 2)}  # fmt: skip
            )
            if not self.silent:
                self.answer(s, bytes((0x20, 2, 0, self.connack)))
        elif kind == 0x80:  # SUBSCRIBE
            pid = body[0] * 256 + body[1]
            topic, i = field(body, 2)
            topic = topic.decode()
            qos = body[i]
            self.subscriptions.append((topic, qos))
            code = 0x80 if topic in self.refuse_topics else min(qos, 1)
            if not self.silent:
                self.answer(s, bytes((0x90, 3, pid // 256, pid % 256, code)))
        elif kind == 0x30:  # PUBLISH
            qos = (first >> 1) & 3
            topic, i = field(body, 0)
            topic = topic.decode()
            if qos:
                pid = body[i] * 256 + body[i + 1]
                i += 2
                if not self.silent:
                    self.answer(s, bytes((0x40, 2, pid // 256, pid % 256)))
            payload = bytes(body[i:])
            self.published.append((topic, payload, qos, bool(first & 1)))
            handler = self.handlers.get(topic)
            if handler is not None and not self.silent:
                handler(self, payload)
        elif kind == 0x40:  # PUBACK
            self.pubacks.append(body[0] * 256 + body[1])
        elif kind == 0xC0:  # PINGREQ
            self.pings += 1
            if self.answer_pings and not self.silent:
                self.answer(s, bytes((0xD0, 0)))
        elif kind == 0xE0:  # DISCONNECT
            self.disconnects += 1
