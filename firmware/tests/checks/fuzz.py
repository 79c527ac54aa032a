# 10,000 random and malformed delta / get / cmd messages through the device's MQTT callback.
# No exception may escape, the state must stay valid, and the light must keep rendering.
import json
import os
import random
import socket

import board
import hostcheck
import light
import machine
import neopixel
import network
import ntptime
import store
from hostcheck import check

THING = "sl-00000000f022"
COUNT = 10000
BASE = "$aws/things/" + THING + "/shadow/"
TOPICS = (
    BASE + "update/delta",
    BASE + "get/accepted",
    BASE + "get/rejected",
    "smartlight/" + THING + "/cmd",
    BASE + "update/accepted",
    "smartlight/sl-ffffffffffff/cmd",
    "",
)
KEYS = light.KEYS + ("connected", "power_ma", "effects", "", "state", "desired", "cmd", "id")
LOG = []


def log(*args):
    if len(LOG) < 50:
        LOG.append(" ".join([str(a) for a in args]))


def pick(seq):
    return seq[random.getrandbits(16) % len(seq)]


def value(depth=0):
    k = random.getrandbits(4)
    if k == 0:
        return None
    if k == 1:
        return random.getrandbits(1) == 1
    if k == 2:
        return random.getrandbits(9) - 128
    if k == 3:
        return random.getrandbits(30) * random.getrandbits(30) - 3
    if k == 4:
        return (random.getrandbits(16) - 30000) / 7
    if k == 5:
        return "#%06x" % random.getrandbits(24)
    if k == 6:
        return pick(("solid", "rainbow", "candle", "", "SOLID", "disco", "#FFFFFF", "#12345"))
    if k == 7:
        return "".join([chr(32 + random.getrandbits(7)) for _ in range(random.getrandbits(4))])
    if k == 8 and depth < 4:
        return [value(depth + 1) for _ in range(random.getrandbits(2))]
    if k == 9 and depth < 4:
        return obj(depth + 1)
    if k == 10:
        return random.getrandbits(16)
    if k == 11:
        return 900001 if random.getrandbits(1) else -1
    if k == 12:
        return "\u00e9\u4e2d\U0001f4a1"
    return random.getrandbits(8)


def obj(depth=0):
    d = {}
    for _ in range(random.getrandbits(3)):
        d[pick(KEYS)] = value(depth)
    return d


def message():
    k = random.getrandbits(4)
    if k < 6:
        doc = {"state": obj(1), "version": random.getrandbits(20)}
        if random.getrandbits(2) == 0:
            doc["state"] = {"desired": obj(1), "reported": obj(1)}
        return json.dumps(doc).encode()
    if k < 8:
        return json.dumps({"id": "x", "cmd": pick(("identify", "reboot", "", None, 3, "IDENTIFY"))})
    if k == 8:
        return json.dumps(value()).encode()
    if k == 9:
        good = json.dumps({"state": obj(1)}).encode()
        return good[: random.getrandbits(5)]
    if k == 10:
        return bytes([random.getrandbits(8) for _ in range(random.getrandbits(6))])
    if k == 11:
        n = 1 + random.getrandbits(7)
        return b"[" * n + b"]" * n
    if k == 12:
        return b'{"state":{"brightness":1e999,"speed":-0,"on":NaN,"color":"\\ud800"}}'
    if k == 13:
        return b'{"state":{"color":"' + b"a" * (17000 + random.getrandbits(10)) + b'"}}'
    if k == 14:
        return b'{"state":{"brightness":123456789012345678901234567890}}'
    return b""


class Outbox:
    """Where a connected mqtt.MQTTClient queues publishes; counts them."""

    def __init__(self):
        self.sent = 0

    def publish_nowait(self, topic, msg, retain=False):
        self.sent += 1
        return True


@check("fuzz: no exception escapes the message handler")
def _():
    random.seed(20240607)
    root = hostcheck.FLASH + "/fuzz"
    os.mkdir(root)
    store.write_json(
        root,
        "config.json",
        {"thing": THING, "endpoint": "b", "port": 1883, "tls": False, "led_count": 30},
    )
    with open(root + "/wifi.dat", "w") as f:
        f.write("home;pw\n")
    network.AIR = [(b"home", b"", 1, -50, 3, False)]
    network.PASSWORDS = {"home": "pw"}
    d = board.make(root, machine, neopixel, network, socket, ntptime, None, None, log)
    # gc.mem_free() walks the whole allocation table; the WebAssembly heap is hundreds of MB
    # (an ESP32's is ~100 KB), which would make this run about the fake, not the handler.
    d.heap_free = lambda: 100000
    d.client = Outbox()  # a connected link: reports go through Device.publish as on the board
    now = d.now
    d.step(now)
    escaped = 0
    first = None
    kinds = {}
    for i in range(COUNT):
        topic = pick(TOPICS)
        msg = message()
        kinds[topic] = kinds.get(topic, 0) + 1
        try:
            d.on_message(topic.encode() if i % 2 else topic, msg)
        except Exception as e:  # counted, never expected
            escaped += 1
            if first is None:
                first = repr(e)
        if i % 50 == 0:
            now += 20
            d.renderer.frame(now)
    valid = True
    for key in light.KEYS:
        if light.clean(key, d.light.state[key]) != d.light.state[key]:
            valid = False
    frames = d.renderer.frames
    d.renderer.frame(now + 20)
    return {
        "count": COUNT,
        "escaped": escaped,
        "first": first,
        "handled": d.shadow.handled,
        "dropped": d.shadow.dropped,
        "state_valid": valid,
        "renders": d.renderer.frames > frames,
        "topics": len(kinds),
        "reports": d.client.sent,
    }


hostcheck.done()
