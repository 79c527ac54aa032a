# The firmware's MQTT client against scripted broker byte streams, under real MicroPython
# (Node + WebAssembly, asyncio on the JS event loop) and under CPython. Every expected byte
# string is spelled out from MQTT 3.1.1, not produced by the client's own encoder.
import asyncio

import brokerfake
import hostcheck
import mqtt
from hostcheck import acheck

CONNACK_OK = b"\x20\x02\x00\x00"


def client(opener, keepalive=30, timeout_ms=300, **kw):
    c = mqtt.MQTTClient(
        "sl-0123456789ab", "broker.local", 8883, keepalive=keepalive, open_connection=opener,
        timeout_ms=timeout_ms, **kw
    )
    return c


async def ended(c):
    # asyncio.wait_for never returns on the WebAssembly port when the coroutine wins.
    await mqtt.until(lambda: c.closed.is_set(), 2000, "end of the link")
    return await c.wait_closed()


async def settle(ms=30):
    await mqtt.sleep_ms(ms)


@acheck("connect sends CONNECT with will and keepalive and accepts CONNACK")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, calls = brokerfake.scripted(s)
    c = client(opener, keepalive=45, ssl="CTX")
    c.set_last_will("smartlight/sl-0123456789ab/lwt", '{"c":0}', False, 1)
    await c.connect()
    written = s.written
    c.close()
    return {
        "written": list(written),
        "open": [calls[0][0], calls[0][1], calls[0][2], calls[0][3]],
        "connected_then": True,
    }


@acheck("a refused CONNACK raises and closes the socket")
async def _():
    s = brokerfake.Stream()
    s.feed(b"\x20\x02\x00\x05")  # 5: not authorised
    opener, _ = brokerfake.scripted(s)
    c = client(opener)
    try:
        await c.connect()
        return "connected"
    except mqtt.MQTTError as e:
        return {"error": str(e), "closed": s.closed}


@acheck("a silent broker times the connect out")
async def _():
    s = brokerfake.Stream()  # accepts the bytes, never answers
    opener, _ = brokerfake.scripted(s)
    c = client(opener, timeout_ms=200)
    try:
        await c.connect()
        return "connected"
    except mqtt.Timeout as e:
        return {"timeout": str(e), "closed": s.closed, "sent_connect": s.written[:1] == b"\x10"}


@acheck("subscribe waits for SUBACK and reports a refusal")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener)
    await c.connect()
    s.written = b""
    task = asyncio.create_task(c.subscribe("a/b", 1))
    await settle()
    first = s.written
    s.feed(b"\x90\x03\x00\x01\x01")  # SUBACK pid 1, granted QoS 1
    granted = await task
    s.written = b""
    task = asyncio.create_task(c.subscribe("x", 1))
    await settle()
    s.feed(b"\x90\x03\x00\x02\x80")  # SUBACK pid 2, failure
    try:
        await task
        refused = None
    except mqtt.MQTTError as e:
        refused = str(e)
    c.close()
    return {"subscribe": list(first), "granted": granted, "refused": refused}


@acheck("an incoming QoS 1 PUBLISH is delivered and acknowledged with PUBACK")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener)
    got = []
    c.set_callback(lambda t, m: got.append([t.decode(), m.decode()]))
    await c.connect()
    s.written = b""
    # PUBLISH QoS 1, topic "t/1", packet id 0x1234, payload "hello"
    s.feed(b"\x32\x0c\x00\x03t/1\x12\x34hello")
    await settle()
    puback = s.written
    c.close()
    return {"got": got, "puback": list(puback)}


@acheck("publish QoS 1 waits for PUBACK, resends once with DUP, then drops the link")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener, timeout_ms=150)
    await c.connect()
    s.written = b""
    task = asyncio.create_task(c.publish("t", b"on", False, 1))
    await settle()
    first = s.written
    s.feed(b"\x40\x02\x00\x01")  # PUBACK pid 1
    await task
    acked = c.connected
    s.written = b""
    try:
        await c.publish("t", b"again", False, 1)  # never acknowledged
        lost = None
    except mqtt.MQTTError as e:
        lost = str(e)
    w = s.written
    return {
        "first": list(first),
        "acked": acked,
        "lost": lost,
        "resend": list(w),
        "connected": c.connected,
        "why": c.why,
    }


@acheck("keepalive sends PINGREQ and PINGRESP keeps the link")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener, timeout_ms=200)
    c.ping_ms = 0  # test speed: a PINGREQ as soon as the last one was answered
    await c.connect()
    s.written = b""
    pongs = 0
    for _ in range(3):
        await settle(20)
        if s.written.endswith(b"\xc0\x00"):
            s.written = b""
            s.feed(b"\xd0\x00")
            pongs += 1
    await settle(20)
    alive = c.connected
    c.close()
    return {"pongs": pongs, "pings": c.pings >= 2, "alive": alive}


@acheck("pings come every 30 s at the default keepalive, never after the keepalive")
async def _():
    out = {}
    for k in (30, 45, 60, 1200):
        out[str(k)] = mqtt.MQTTClient("x", "h", keepalive=k).ping_ms
    return out


@acheck("a missing PINGRESP drops the link")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener, timeout_ms=100)
    c.ping_ms = 0
    await c.connect()
    why = await ended(c)
    return {"why": why, "closed": s.closed, "pinged": b"\xc0\x00" in s.written}


@acheck("a dropped socket ends the link")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener)
    await c.connect()
    s.feed_eof()
    why = await ended(c)
    return {"why": why[:11], "connected": c.connected}


@acheck("queued publishes from a callback go out in order")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener)
    await c.connect()
    s.written = b""
    c.publish_nowait("a", "1")
    c.publish_nowait("b", "ü")  # two bytes in UTF-8: the length counts bytes
    await settle()
    out = s.written
    c.close()
    return list(out)


@acheck("a malformed remaining length drops the link")
async def _():
    s = brokerfake.Stream()
    s.feed(CONNACK_OK)
    opener, _ = brokerfake.scripted(s)
    c = client(opener)
    await c.connect()
    s.feed(b"\x30\xff\xff\xff\xff\x01")
    why = await ended(c)
    return why


await hostcheck.run_async()  # noqa: F704, PLE1142 (top-level await: the harness allows it)
hostcheck.done()
