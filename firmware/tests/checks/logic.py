# Firmware logic checks, run unchanged under real MicroPython (Node + WebAssembly) and under
# CPython by firmware/tests/test_logic.py. Each @check records a value the pytest side asserts.
import json
import os
import socket

import backoff
import board
import effects
import hostcheck
import light
import machine
import neopixel
import network
import ntptime
import render
import shadow
import store
import wifimgr
from clock import ticks_add, ticks_diff
from hostcheck import check

THING = "sl-0123456789ab"
LOG = []
_dirs = [0]


def log(*args):
    LOG.append(" ".join([str(a) for a in args]))


def renderer(n=10, max_ma=0):
    strip = neopixel.NeoPixel(None, n)
    return render.Renderer(n, strip, max_ma), strip


def pixels(r):
    return [list(r.pixel(i)) for i in range(r.n)]


def fresh_dir():
    _dirs[0] += 1
    d = hostcheck.FLASH + "/dev" + str(_dirs[0])
    os.mkdir(d)
    return d


def make_device(cfg=None, saved=None, wifi=True, ssl=None):
    root = fresh_dir()
    conf = {
        "thing": THING,
        "endpoint": "broker.local",
        "port": 1883,
        "tls": False,
        "led_count": 10,
        "max_ma": 0,
        "keepalive_s": 30,
        "offline_reboot_s": 900,
    }
    if cfg:
        for k in cfg:
            conf[k] = cfg[k]
    store.write_json(root, "config.json", conf)
    if saved is not None:
        store.write_json(root, "state.json", saved)
    with open(root + "/wifi.dat", "w") as f:
        f.write("home;secret\n")
    network.AIR = [(b"home", b"\x00\x01\x02\x03\x04\x05", 6, -55, 3, False)] if wifi else []
    network.PASSWORDS = {"home": "secret"}
    machine.resets = 0
    ntptime.fail = 0
    ntptime.calls = 0
    d = board.make(root, machine, neopixel, network, socket, ntptime, ssl, None, log)
    return d, root


def run(d, start, ms, every=20):
    t = start
    end = ticks_add(start, ms)
    while t != end:
        t = ticks_add(t, every)
        d.step(t)
    return t


def reported(topic_payloads):
    return [json.loads(p)["state"]["reported"] for p in topic_payloads]


T = shadow.Topics(THING)


def get_accepted(desired, version=7):
    return json.dumps({"state": {"desired": desired, "reported": {}}, "version": version})


# -- rendering ------------------------------------------------------------------------------


@check("solid shows the colour through gamma")
def _():
    r, strip = renderer()
    r.set(True, 255, 255, 128, 0, "solid", 128, 0, 0)
    r.frame(0)
    return {"pixel": list(r.pixel(3)), "g128": render.GAMMA[128], "raw": list(strip.buf[:3])}


@check("brightness scales before gamma")
def _():
    r, _ = renderer()
    r.set(True, 128, 255, 255, 255, "solid", 128, 0, 0)
    r.frame(0)
    return {"pixel": list(r.pixel(0)), "expected": render.GAMMA[(255 * 129) >> 8]}


@check("off is dark")
def _():
    r, strip = renderer()
    r.set(False, 255, 255, 255, 255, "rainbow", 128, 0, 0)
    r.frame(0)
    return {"max": max(strip.buf), "power_ma": r.power_ma}


@check("fade passes halfway at half the transition and lands on target")
def _():
    r, _ = renderer()
    r.set(True, 255, 0, 0, 0, "solid", 128, 0, 0)
    r.frame(0)
    r.set(True, 255, 255, 255, 255, "solid", 128, 1000, 0)
    r.frame(500)
    half = r.cur[0]
    mid_fading = r.fading(500)
    r.frame(1000)
    end = r.cur[0]
    return {"half": half, "end": end, "fading_mid": mid_fading, "fading_end": r.fading(1000)}


@check("every effect animates except solid")
def _():
    out = {}
    for name in effects.NAMES:
        r, strip = renderer(30)
        r.set(True, 255, 255, 100, 50, name, 200, 0, 0)
        frames = []
        for t in range(0, 3000, 250):
            r.frame(t)
            frames.append(bytes(strip.buf))
        distinct = 0
        for i in range(1, len(frames)):
            if frames[i] != frames[i - 1]:
                distinct += 1
        out[name] = distinct
    return out


@check("speed makes effects faster")
def _():
    out = {}
    for speed in (0, 128, 255):
        r, _ = renderer(10)
        r.set(True, 255, 255, 0, 0, "rainbow", speed, 0, 0)
        r.frame(0)
        r.frame(1000)
        out[str(speed)] = r.phase
    return out


@check("chase lights a short comet")
def _():
    r, strip = renderer(60)
    r.set(True, 255, 255, 255, 255, "chase", 128, 0, 0)
    r.frame(0)
    r.frame(1234)
    lit = 0
    for i in range(60):
        if r.pixel(i)[0] > 0:
            lit += 1
    return lit


@check("rainbow covers the colour wheel")
def _():
    r, _ = renderer(48)
    r.set(True, 255, 0, 0, 0, "rainbow", 128, 0, 0)
    r.frame(0)
    red = green = blue = 0
    for i in range(48):
        p = r.pixel(i)
        if p[0] == 255:
            red += 1
        if p[1] == 255:
            green += 1
        if p[2] == 255:
            blue += 1
    return [red, green, blue]


@check("WS2813 buffer is in GRB order")
def _():
    r, strip = renderer(2)
    r.set(True, 255, 255, 0, 0, "solid", 128, 0, 0)
    r.frame(0)
    return list(strip.buf)


@check("power estimate follows the per-channel model")
def _():
    r, _ = renderer(10)
    r.set(True, 255, 255, 0, 0, "solid", 128, 0, 0)
    r.frame(0)
    red = r.power_ma
    r.set(True, 255, 255, 255, 255, "solid", 128, 0, 0)
    r.frame(20)
    white = r.power_ma
    return {"red": red, "white": white}


@check("power limiter keeps every effect under max_ma")
def _():
    out = {}
    for name in effects.NAMES:
        r, _ = renderer(150, 1000)
        r.set(True, 255, 255, 255, 255, name, 200, 0, 0)
        worst = 0
        for t in range(0, 2000, 40):
            r.frame(t)
            if r.power_ma > worst:
                worst = r.power_ma
        out[name] = worst
    unlimited, _ = renderer(150, 0)
    unlimited.set(True, 255, 255, 255, 255, "solid", 200, 0, 0)
    unlimited.frame(0)
    out["unlimited solid"] = unlimited.power_ma
    return out


@check("identify blinks three times and restores")
def _():
    r, _ = renderer(4)
    r.set(True, 255, 0, 0, 255, "solid", 128, 0, 0)
    r.frame(0)
    r.identify(1000)
    seen = []
    for t in (1100, 1400, 1700, 2000, 2300, 2600, 2900):
        r.frame(t)
        seen.append(list(r.pixel(0)))
    return seen


# -- state and validation -------------------------------------------------------------------


@check("light ignores unknown keys and bad values")
def _():
    r, _ = renderer()
    lt = light.Light(r)
    before = dict(lt.state)
    n = lt.apply(
        {
            "brightness": 300,
            "color": "red",
            "on": 1,
            "effect": "disco",
            "foo": 1,
            "speed": 10,
            "transition_ms": -1,
        },
        0,
    )
    after = dict(lt.state)
    changed = [k for k in light.KEYS if before[k] != after[k]]
    return {"changed": n, "keys": changed, "speed": after["speed"]}


@check("transitions run up to fifteen minutes")
def _():
    r, _ = renderer()
    lt = light.Light(r)
    longest = lt.apply({"transition_ms": 900000}, 0)
    shown = lt.state["transition_ms"]
    too_long = lt.apply({"transition_ms": 900001}, 0)
    return {"longest": longest, "shown": shown, "too_long": too_long,
            "after": lt.state["transition_ms"]}


@check("booleans are not numbers and colours are normalised")
def _():
    r, _ = renderer()
    lt = light.Light(r)
    lt.apply({"brightness": True, "speed": False, "color": "#ABCDEF", "on": False}, 0)
    return lt.state


@check("light restores a saved state")
def _():
    r, _ = renderer()
    lt = light.Light(r, {"color": "#010203", "effect": "candle", "bogus": 3})
    return lt.state


# -- shadow messages ------------------------------------------------------------------------


def shadow_rig():
    r, strip = renderer(8)
    lt = light.Light(r)
    lt.show(0, 0)
    sent = []

    def publish(topic, payload):
        sent.append((topic, payload))

    def telemetry():
        return {"fw": "x", "effects": list(effects.NAMES)}

    sh = shadow.Shadow(THING, lt, publish, telemetry, log)
    return sh, lt, sent


@check("delta is applied and the shown state reported")
def _():
    sh, lt, sent = shadow_rig()
    msg = json.dumps(
        {"state": {"color": "#00ff00", "bogus": 1, "brightness": 999}, "version": 5}
    ).encode()
    ok = sh.handle(T.delta.encode(), msg, 10)
    return {"ok": ok, "topic": sent[0][0], "reported": reported([p for (_, p) in sent])}


@check("get accepted applies desired and reports everything connected")
def _():
    sh, lt, sent = shadow_rig()
    sh.handle(T.get_accepted, get_accepted({"on": False, "effect": "twinkle"}), 0)
    return {"synced": sh.synced, "reported": reported([p for (_, p) in sent])}


@check("get rejected still reports the full state")
def _():
    sh, lt, sent = shadow_rig()
    sh.handle(T.get_rejected, b'{"code":404,"message":"No shadow exists"}', 0)
    return reported([p for (_, p) in sent])


@check("commands identify and reboot")
def _():
    sh, lt, sent = shadow_rig()
    a = sh.handle(T.cmd, b'{"id":"1","cmd":"identify"}', 0)
    ident = lt.renderer.identifying
    b = sh.handle(T.cmd, b'{"id":"2","cmd":"reboot"}', 0)
    c = sh.handle(T.cmd, b'{"id":"3","cmd":"selfdestruct"}', 0)
    return [a, ident, b, sh.reboot_requested, c, len(sent)]


@check("bad messages are ignored")
def _():
    sh, lt, sent = shadow_rig()
    before = dict(lt.state)
    big = b'{"state":{"color":"#000000","pad":"' + b"x" * 20000 + b'"}}'
    results = [
        sh.handle(T.delta, big, 0),
        sh.handle(b"$aws/things/sl-ffffffffffff/shadow/update/delta", b'{"state":{"on":false}}', 0),
        sh.handle(T.delta, b"{not json", 0),
        sh.handle(T.delta, b"[1,2]", 0),
        sh.handle(T.delta, b'{"state":[1]}', 0),
        sh.handle(T.delta, b"\xff\xfe", 0),
        sh.handle(T.delta, None, 0),
        sh.handle(T.cmd, b'"reboot"', 0),
    ]
    same = lt.state == before
    return {"results": results, "same": same, "sent": len(sent), "dropped": sh.dropped}


@check("thing names follow the contract")
def _():
    return [
        shadow.thing_ok("sl-0123456789ab"),
        shadow.thing_ok("sl-0123456789AB"),
        shadow.thing_ok("sl-0123"),
        shadow.thing_ok("xx-0123456789ab"),
    ]


# -- persistence ----------------------------------------------------------------------------


@check("state is saved within 5 s once changes stop")
def _():
    root = fresh_dir()
    s = store.Saver(root)
    s.changed(0)
    early = s.poll(1000, {"on": True})
    wrote_at = None
    for t in range(1000, 6000, 100):
        if s.poll(t, {"on": True}):
            wrote_at = t
            break
    return {"early": early, "wrote_at": wrote_at, "file": store.read_json(root, "state.json")}


@check("constant change writes at most once a minute")
def _():
    root = fresh_dir()
    s = store.Saver(root)
    writes = []
    state = {"brightness": 0}
    t = 0
    while t < 300000:  # five minutes of a slider being dragged, a change every 500 ms
        if t % 500 == 0:
            state["brightness"] = (t // 500) % 256
            s.changed(t)
        if s.poll(t, state):
            writes.append(t)
        t += 100
    stop = t
    last = dict(state)
    settled = None
    while t < stop + 10000:
        if s.poll(t, state):
            settled = t - stop
            break
        t += 100
    gaps = [writes[i] - writes[i - 1] for i in range(1, len(writes))]
    return {
        "writes": len(writes),
        "min_gap": min(gaps) if gaps else None,
        "settled_after": settled,
        "saved": store.read_json(root, "state.json") == last,
    }


@check("unchanged state is not rewritten")
def _():
    root = fresh_dir()
    s = store.Saver(root)
    s.changed(0)
    first = s.poll(3000, {"on": True})
    s.changed(4000)
    second = s.poll(7000, {"on": True})
    return [first, second, s.writes]


@check("config file overrides the defaults")
def _():
    root = fresh_dir()
    store.write_json(root, "config.json", {"thing": THING, "led_count": 150})
    cfg = store.load_config(root)
    return {"thing": cfg["thing"], "led_count": cfg["led_count"], "pin": cfg["pin"]}


@check("bad config values keep their defaults")
def _():
    root = fresh_dir()
    doc = {"thing": THING, "led_count": "150", "max_ma": -5, "tls": 1, "pin": True, "fps": 40,
           "port": 99999, "user": 7, "password": "pw"}  # fmt: skip
    store.write_json(root, "config.json", doc)
    lines = []
    cfg = store.load_config(root, lambda *a: lines.append(" ".join([str(x) for x in a])))
    keys = ["led_count", "max_ma", "tls", "pin", "fps", "port", "user", "password"]
    return {"cfg": [cfg[k] for k in keys], "ignored": len(lines)}


# -- backoff --------------------------------------------------------------------------------


@check("backoff grows exponentially with jitter and caps at 30 s")
def _():
    hi = backoff.Backoff(lambda n: n - 1)
    lo = backoff.Backoff(lambda n: 0)
    highs = [hi.next_ms() for _ in range(8)]
    lows = [lo.next_ms() for _ in range(8)]
    hi.reset()
    return {"high": highs, "low": lows, "after_reset": hi.next_ms()}


# -- the device: boot, link, resilience ------------------------------------------------------


@check("boot restores the saved look before any network")
def _():
    saved = {"color": "#00ff00", "brightness": 255, "effect": "solid"}
    d, root = make_device(saved=saved, wifi=False)
    t = run(d, d.now, 100)
    return {
        "state": d.light.state,
        "pixel": list(d.renderer.pixel(0)),
        "scans": network.scans > 0,
        "t": t is not None,
    }


@check("fifteen minutes without the cloud reboots")
def _():
    d, _ = make_device()  # WiFi joined, the cloud never answers (the link task is not run)
    t = d.now
    rebooted_at = None
    for _ in range(1000):
        t = ticks_add(t, 1000)
        d.step(t)
        if machine.resets:
            rebooted_at = t - d.booted
            break
    return rebooted_at


@check("watchdog is fed on every pass")
def _():
    d, _ = make_device(cfg={"wdt_ms": 30000})
    w = machine.wdts[-1]
    run(d, d.now, 1000)
    return {"timeout": w.timeout, "feeds": w.feeds}


@check("wifi joins the strongest known network")
def _():
    root = fresh_dir()
    with open(root + "/wifi.dat", "w") as f:
        f.write("weak;pw1\nstrong;pw2\n")
    network.AIR = [
        (b"weak", b"", 1, -80, 3, False),
        (b"stranger", b"", 1, -30, 3, False),
        (b"strong", b"", 6, -50, 3, False),
    ]
    network.PASSWORDS = {"weak": "pw1", "strong": "pw2"}
    w = wifimgr.WifiManager(network, socket, root, THING, log)
    w.poll(0)
    return {"connects": w.sta.connects, "connected": w.poll(100), "ap": w.ap is not None}


@check("wifi setup portal lists networks and stores the choice")
def _():
    root = fresh_dir()
    network.AIR = [(b"Cafe <5G>", b"", 1, -40, 3, False), (b"home", b"", 1, -60, 3, False)]
    network.PASSWORDS = {"home": "p@ss word"}
    socket.pending = []
    socket.answered = []
    w = wifimgr.WifiManager(network, socket, root, THING, log)
    w.poll(0)
    ap_name = w.ap.config_args.get("essid") if w.ap else None
    socket.pending.append(b"GET / HTTP/1.1\r\nHost: 192.168.4.1\r\n\r\n")
    w.poll(100)
    body = b"ssid=home&password=p%40ss+word"
    socket.pending.append(
        b"POST /save HTTP/1.1\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    w.poll(200)
    w.poll(300)  # joins right away with the stored password
    joined = w.poll(400)
    with open(root + "/wifi.dat") as f:
        stored = f.read()
    page = socket.answered[0].decode()
    return {
        "ap": ap_name,
        "lists": "Cafe &lt;5G&gt;" in page and ">home<" in page,
        "status": [a.decode().split("\r\n")[0] for a in socket.answered],
        "stored": stored,
        "joined": joined,
        "portal_closed": w.ap is None and socket.servers[-1].closed,
    }


@check("wifi opens the portal when no known network answers and keeps retrying them")
def _():
    d, _ = make_device(cfg={"offline_reboot_s": 0})
    network.PASSWORDS = {"home": "changed"}  # in range, but refuses us (router rebooting)
    w = d.wifi
    socket.pending = []
    socket.answered = []
    t = d.now
    opened_at = None
    tries = []
    for _ in range(3000):  # a minute
        t = ticks_add(t, 20)
        d.step(t)
        if opened_at is None and w.ap is not None:
            opened_at = t - d.booted
        if len(w.sta.connects) + w.sta.refused > len(tries):
            tries.append(t - d.booted)
    socket.pending.append(b"GET / HTTP/1.1\r\n\r\n")  # the page still answers meanwhile
    t = run(d, t, 100)
    ap = w.ap
    network.PASSWORDS = {"home": "secret"}  # the router is back
    back = t
    joined_after = None
    for _ in range(3000):
        t = ticks_add(t, 20)
        d.step(t)
        if w.isconnected():
            joined_after = t - back
            break
    t = run(d, t, 1000)
    return {
        "opened_at": opened_at,
        "tries": tries,
        "refused": w.sta.refused,
        "page": [a.decode().split("\r\n")[0] for a in socket.answered],
        "joined_after": joined_after,
        "portal_closed": w.ap is None and ap is not None and not ap.active(),
        "server_closed": socket.servers[-1].closed,
    }


@check("wifi form rejects a missing network name")
def _():
    root = fresh_dir()
    network.AIR = []
    socket.pending = [b"POST /save HTTP/1.1\r\nContent-Length: 9\r\n\r\npassword="]
    socket.answered = []
    w = wifimgr.WifiManager(network, socket, root, THING, log)
    w.poll(0)
    w.poll(10)
    try:
        open(root + "/wifi.dat").close()
        exists = True
    except OSError:
        exists = False
    return {"status": socket.answered[0].decode().split("\r\n")[0], "stored": exists}


# -- setup, uptime, power budget -----------------------------------------------------------


@check("no reboot while the setup access point is open")
def _():
    d, _ = make_device(wifi=False)  # no known network: the portal opens and stays open
    t = d.now
    for _ in range(3600):  # an hour
        t = ticks_add(t, 1000)
        d.step(t)
    portal = d.wifi.portal_open()
    network.AIR = [(b"home", b"\x00\x01\x02\x03\x04\x05", 6, -55, 3, False)]
    rebooted_at = None
    back = t
    for _ in range(1000):  # setup done: WiFi back, the cloud still unreachable
        t = ticks_add(t, 1000)
        d.step(t)
        if machine.resets:
            rebooted_at = ticks_diff(t, back)
            break
    return {"portal_hour": portal, "resets_during_setup": 0 if rebooted_at else machine.resets,
            "rebooted_after_setup_s": rebooted_at // 1000 if rebooted_at else None}  # fmt: skip


@check("the setup access point uses WPA2 and the page shows serial and claim code")
def _():
    socket.pending = [b"GET / HTTP/1.1\r\n\r\n"]
    socket.answered = []
    d, _ = make_device(
        cfg={"serial": "0123456789ab", "claim_code": "K7Q-9XD-2MP", "ap_password": "lamp-8841-ok"},
        wifi=False,
    )
    d.step(ticks_add(d.now, 20))
    d.step(ticks_add(d.now, 40))
    ap = d.wifi.ap.config_args if d.wifi.ap else {}
    page = socket.answered[0].decode() if socket.answered else ""
    return {
        "essid": ap.get("essid"),
        "password": ap.get("password"),
        "wpa2": ap.get("authmode") == network.AUTH_WPA2_PSK,
        "serial_shown": "0123456789ab" in page,
        "claim_code_shown": "K7Q-9XD-2MP" in page,
    }


@check("without an ap_password the access point stays open and says so")
def _():
    d, _ = make_device(cfg={"ap_password": "short"}, wifi=False)
    d.step(ticks_add(d.now, 20))
    ap = d.wifi.ap.config_args if d.wifi.ap else {}
    return {"password": ap.get("password"), "logged": [x for x in LOG if "open access" in x][-1:]}


@check("uptime stays right across the ticks wrap")
def _():
    d, _ = make_device(cfg={"offline_reboot_s": 0}, wifi=False)
    t = d.now
    for _ in range(40 * 24 * 60):  # forty days, a pass a minute
        t = ticks_add(t, 60000)
        d.step(t)
    return {"uptime_s": d.uptime_s, "telemetry": d.telemetry()["uptime_s"]}


@check("the power budget keeps the board's own draw aside")
def _():
    d, _ = make_device(cfg={"max_ma": 850})
    default, _ = make_device(cfg={"max_ma": 1000, "board_ma": 250})
    unlimited, _ = make_device(cfg={"max_ma": 0})
    return {
        "strip": d.renderer.max_ma,
        "reported": d.telemetry()["max_ma"],
        "custom": default.renderer.max_ma,
        "unlimited": unlimited.renderer.max_ma,
        "default_max_ma": store.CONFIG["max_ma"],
    }


class Impl:
    def __init__(self, name, version):
        self.name = name
        self.version = version


@check("the runtime is checked at boot with a clear log line")
def _():
    del LOG[:]
    old = board.check_runtime(log, Impl("micropython", (1, 21, 0, "")))
    new = board.check_runtime(log, Impl("micropython", (1, 24, 1, "")))
    cpython = board.check_runtime(log, Impl("cpython", (3, 11, 7, "final", 0)))
    make_device()
    return {"results": [old, new, cpython], "lines": LOG[:3], "boot": LOG[3]}


hostcheck.done()
