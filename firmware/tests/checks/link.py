# The device's frame loop and cloud link together, on asyncio, against a scripted broker
# (brokerfake.Broker decodes the client's bytes and answers them): connect, shadow resync,
# liveness by pings, broker loss / silence / delay, fleet provisioning. Runs under real
# MicroPython (WebAssembly: asyncio on the JS event loop, real milliseconds) and CPython.
import json
import os
import socket
import ssl

import board
import brokerfake
import hostcheck
import machine
import mqtt
import neopixel
import network
import ntptime
import provision
import shadow
import store
from clock import ticks_diff, ticks_ms
from hostcheck import acheck

THING = "sl-0123456789ab"
T = shadow.Topics(THING)
BROKER = brokerfake.Broker()
LOG = []
_dirs = [0]


def log(*args):
    LOG.append(" ".join([str(a) for a in args]))


def fresh_dir():
    _dirs[0] += 1
    d = hostcheck.FLASH + "/link" + str(_dirs[0])
    os.mkdir(d)
    return d


def make_device(cfg=None, root=None, tls=False):
    if root is None:
        root = fresh_dir()
        conf = {
            "thing": THING,
            "endpoint": "broker.local",
            "port": 1883,
            "tls": tls,
            "led_count": 10,
            "max_ma": 0,
            "offline_reboot_s": 900,
        }
        for k in cfg or {}:
            conf[k] = cfg[k]
        store.write_json(root, "config.json", conf)
        with open(root + "/wifi.dat", "w") as f:
            f.write("home;secret\n")
    network.AIR = [(b"home", b"\x00\x01\x02\x03\x04\x05", 6, -55, 3, False)]
    network.PASSWORDS = {"home": "secret"}
    machine.resets = 0
    d = board.make(
        root, machine, neopixel, network, socket, ntptime, ssl, BROKER.open_connection, log
    )
    # Test speed: pings every 100 ms, every wait at most 400 ms, reconnects within 40..80 ms.
    real = d.make_client

    def make_client(claim=False):
        c = real(claim)
        c.ping_ms = 100
        c.timeout_ms = 400
        return c

    d.make_client = make_client
    d.backoff.base_ms = 40
    d.backoff.cap_ms = 80
    return d, root


class Running:
    """The device's main() as a task; stop() ends it as a power cut would."""

    def __init__(self, d):
        self.d = d
        self.task = None

    async def __aenter__(self):
        import asyncio

        self.task = asyncio.create_task(self.d.main())
        await mqtt.sleep_ms(0)
        return self

    async def __aexit__(self, *exc):
        self.d.running = False
        await mqtt.until(self.task.done, 2000, "device stop")
        self.d.drop("power cut")


async def wait(cond, ms=3000, what="condition"):
    await mqtt.until(cond, ms, what)


def get_accepted(desired, version=7):
    return json.dumps({"state": {"desired": desired, "reported": {}}, "version": version})


def reported(payloads):
    return [json.loads(p)["state"]["reported"] for p in payloads]


@acheck("connect follows the contract")
async def _():
    BROKER.reset()
    d, _ = make_device()
    async with Running(d):
        await wait(d.online, what="online")
        await wait(lambda: BROKER.sent(T.get), what="get")
        c = BROKER.connects[-1]
        subs = [list(s) for s in BROKER.subscriptions]
        first = BROKER.published[0]
    return {
        "client_id": c["client_id"],
        "protocol": c["protocol"],
        "will": c["will"],
        "clean": c["clean"],
        "subscriptions": subs,
        "first_publish": [first[0], first[1].decode(), first[2]],
        "open": list(BROKER.opens[-1][:2]) + [BROKER.opens[-1][2] is None],
    }


@acheck("get accepted reports the full state once, and an idle link only pings")
async def _():
    BROKER.reset()
    d, _ = make_device()
    async with Running(d):
        await wait(d.online, what="online")
        BROKER.send(T.get_accepted, get_accepted({"color": "#123456", "speed": 7}), 1)
        await wait(lambda: BROKER.sent(T.update), what="report")
        pings = BROKER.pings
        await mqtt.sleep_ms(700)  # seven ping periods, nothing changes
        idle_pings = BROKER.pings - pings
        updates = BROKER.sent(T.update)
        gets = BROKER.sent(T.get)
        pubacks = list(BROKER.pubacks)
        online = d.online()
    return {
        "reports": reported(updates),
        "idle_pings": idle_pings,
        "gets": len(gets),
        "puback": len(pubacks),
        "color": d.light.state["color"],
        "online": online,
    }


@acheck("an unanswered get is asked again until answered, then never again")
async def _():
    BROKER.reset()
    d, _ = make_device()
    d.get_retry_ms = 150
    async with Running(d):
        await wait(d.online, what="online")
        # The broker lost the first get (QoS 0): nobody answers
        await wait(lambda: len(BROKER.sent(T.get)) >= 3, what="third get")
        reports_unsynced = len(BROKER.sent(T.update))
        BROKER.send(T.get_accepted, get_accepted({"color": "#00ff00"}), 1)
        await wait(lambda: BROKER.sent(T.update), what="report")
        gets = len(BROKER.sent(T.get))
        await mqtt.sleep_ms(600)  # four retry periods: synced, nothing more is asked
        gets_after = len(BROKER.sent(T.get))
        color = d.light.state["color"]
    return {
        "reports_unsynced": reports_unsynced,
        "gets": gets,
        "gets_after": gets_after,
        "color": color,
    }


@acheck("a delta is applied, shown and reported; identify and reboot commands work")
async def _():
    BROKER.reset()
    d, root = make_device()
    async with Running(d):
        await wait(d.online, what="online")
        BROKER.send(T.get_accepted, get_accepted({}))
        await wait(lambda: BROKER.sent(T.update), what="first report")
        msg = {"state": {"color": "#0000ff", "brightness": 255, "transition_ms": 0}}
        BROKER.send(T.delta, json.dumps(msg), 1)
        await wait(lambda: len(BROKER.sent(T.update)) >= 2, what="delta report")
        await mqtt.sleep_ms(50)
        pixel = list(d.renderer.pixel(0))
        BROKER.send(T.cmd, json.dumps({"id": "1", "cmd": "identify"}))
        await wait(lambda: d.renderer.identifying, what="identify")
        BROKER.send(T.cmd, json.dumps({"id": "2", "cmd": "reboot"}))
        await wait(lambda: machine.resets > 0, what="reset")
    return {
        "pixel": pixel,
        "report": reported(BROKER.sent(T.update))[1],
        "resets": machine.resets,
        "saved": store.read_json(root, "state.json")["color"],
    }


async def outage(d, kind, ms):
    """Break the broker one way for ms of real time; frames rendered meanwhile."""
    before = d.renderer.strip.writes
    start = ticks_ms()
    if kind == "drop":
        BROKER.down = True
        BROKER.drop()
    elif kind == "black hole":
        BROKER.silent = True  # the connection stays up and swallows everything
    elif kind == "delay":
        BROKER.delay_ms = 100  # every answer late, but inside the client's timeout
    await mqtt.sleep_ms(ms)
    BROKER.down = False
    BROKER.silent = False
    BROKER.delay_ms = 0
    return d.renderer.strip.writes - before, ticks_diff(ticks_ms(), start)


@acheck("the frame loop keeps its rate while the broker drops, stalls and black-holes")
async def _():
    BROKER.reset()
    d, _ = make_device(cfg={"fps": 50})
    out = {}
    async with Running(d):
        await wait(d.online, what="online")
        BROKER.send(T.get_accepted, get_accepted({"color": "#ff0000"}))
        await wait(lambda: BROKER.sent(T.update), what="report")
        # The same length of healthy link first: the rate this host gives the loop right now.
        before = d.renderer.strip.writes
        start = ticks_ms()
        await mqtt.sleep_ms(600)
        took = ticks_diff(ticks_ms(), start)
        out["healthy_fps"] = (d.renderer.strip.writes - before) * 1000 // took
        for kind in ("drop", "black hole", "delay"):
            connects = len(BROKER.connects)
            frames, took = await outage(d, kind, 600)
            # back: the light resyncs from get and takes the change made meanwhile
            await wait(lambda: len(BROKER.connects) > connects or kind == "delay", 3000, "back")
            await wait(d.online, 3000, "online again")
            if kind != "delay":
                await wait(lambda: BROKER.sent(T.get)[connects:], 3000, "get")
                color = {"drop": "#00ff00", "black hole": "#0000ff"}[kind]
                BROKER.send(T.get_accepted, get_accepted({"color": color}))
                await wait(lambda: d.light.state["color"] == color, 3000, "resync")
            out[kind] = {
                "fps": frames * 1000 // took,
                "reconnected": len(BROKER.connects) > connects,
                "color": d.light.state["color"],
                "online": d.online(),
            }
        out["why"] = [x for x in LOG if x.startswith("cloud: link lost")][-2:]
        out["frame_ms"] = d.frame_ms
    return out


@acheck("a bad thing name keeps the light local")
async def _():
    BROKER.reset()
    d, _ = make_device(cfg={"thing": "SL-NOT-A-THING"})
    async with Running(d):
        await mqtt.sleep_ms(300)
    return {"opens": len(BROKER.opens), "frames": d.renderer.frames > 5}


ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"
PEM = {
    "AmazonRootCA1.pem": "-----BEGIN CERTIFICATE-----\nroot\n",
    "certificate.pem.crt": "-----BEGIN CERTIFICATE-----\ndevice\n",
    "private.pem.key": "-----BEGIN RSA PRIVATE KEY-----\nkey\n",
    "claim.pem.crt": "-----BEGIN CERTIFICATE-----\nclaim\n",
    "claim.private.pem.key": "-----BEGIN RSA PRIVATE KEY-----\nclaimkey\n",
}


def certs(root, names):
    os.mkdir(root + "/certs")
    for name in names:
        with open(root + "/certs/" + name, "w") as f:
            f.write(PEM[name])


@acheck("tls syncs time first, loads the certificates and sends the endpoint as SNI")
async def _():
    BROKER.reset()
    ssl.contexts.clear()
    ntptime.fail = 2
    ntptime.calls = 0
    root = fresh_dir()
    certs(root, ("AmazonRootCA1.pem", "certificate.pem.crt", "private.pem.key"))
    cfg = {"thing": THING, "endpoint": ENDPOINT, "port": 8883, "tls": True, "led_count": 5}
    store.write_json(root, "config.json", cfg)
    with open(root + "/wifi.dat", "w") as f:
        f.write("home;secret\n")
    d, _ = make_device(root=root)
    async with Running(d):
        await wait(d.online, what="online")
        connects = len(BROKER.connects)
        BROKER.drop()  # a reconnect builds its context again and sends SNI again
        await wait(lambda: len(BROKER.connects) > connects and d.online(), what="back")
    ctx = ssl.contexts[-1]
    return {
        "ntp_calls": ntptime.calls,
        "opens": [[o[0], o[1], o[3]] for o in BROKER.opens],
        "contexts": len(ssl.contexts),
        "same_ctx": BROKER.opens[-1][2] is ctx,
        "protocol": ctx.protocol == ssl.PROTOCOL_TLS_CLIENT,
        "verify_required": ctx.verify_mode == ssl.CERT_REQUIRED,
        "loaded": [ctx.cadata.decode(), ctx.cert.decode(), ctx.key.decode()],
    }


@acheck("plain mqtt skips time sync")
async def _():
    BROKER.reset()
    ntptime.calls = 0
    d, _ = make_device()
    async with Running(d):
        await wait(d.online, what="online")
    return {"ntp_calls": ntptime.calls, "ssl": BROKER.opens[-1][2]}


@acheck("power is reported after a change settles")
async def _():
    BROKER.reset()
    d, _ = make_device(cfg={"led_count": 30})
    async with Running(d):
        await wait(d.online, what="online")
        look = {"on": True, "brightness": 255, "color": "#ffffff", "transition_ms": 0}
        BROKER.send(T.get_accepted, get_accepted(look))
        await wait(lambda: d.renderer.power_ma > 1000, what="bright")
        await mqtt.sleep_ms(2300)
        BROKER.send(T.delta, json.dumps({"state": {"on": False}}))
        await mqtt.sleep_ms(2300)
    power = [r["power_ma"] for r in reported(BROKER.sent(T.update)) if list(r) == ["power_ma"]]
    return {"power_reports": power, "now": d.renderer.power_ma}


# -- fleet provisioning ---------------------------------------------------------------------

CREATE = "$aws/certificates/create/json"
REGISTER = "$aws/provisioning-templates/smartlight-fleet/provision/json"
NEW_CERT = "-----BEGIN CERTIFICATE-----\nown\n-----END CERTIFICATE-----\n"
NEW_KEY = "-----BEGIN RSA PRIVATE KEY-----\nownkey\n-----END RSA PRIVATE KEY-----\n"


def fleet_root():
    root = fresh_dir()
    certs(root, ("AmazonRootCA1.pem", "claim.pem.crt", "claim.private.pem.key"))
    cfg = {
        "thing": THING, "endpoint": ENDPOINT, "port": 8883, "tls": True, "led_count": 5,
        "serial": "0123456789ab", "template": "smartlight-fleet", "claim_code": "K7Q-9XD-2MP",
    }  # fmt: skip
    store.write_json(root, "config.json", cfg)
    with open(root + "/wifi.dat", "w") as f:
        f.write("home;secret\n")
    return root


def answer_create(broker, payload):
    # CreateKeysAndCertificate's accepted document (AWS IoT fleet provisioning MQTT API)
    broker.created = broker.created + 1 if hasattr(broker, "created") else 1
    doc = {
        "certificateId": "c0ffee" + str(broker.created),
        "certificatePem": NEW_CERT,
        "privateKey": NEW_KEY,
        "certificateOwnershipToken": "token-" + str(broker.created),
    }
    broker.send(CREATE + "/accepted", json.dumps(doc), 1)


def answer_register(broker, payload):
    req = json.loads(payload)
    broker.registrations.append(req)
    doc = {"deviceConfiguration": {}, "thingName": "sl-" + req["parameters"]["SerialNumber"]}
    broker.send(REGISTER + "/accepted", json.dumps(doc), 1)


def listing(root):
    return sorted(os.listdir(root + "/certs"))


@acheck("a claim-only light provisions itself and reconnects as itself")
async def _():
    BROKER.reset()
    BROKER.registrations = []
    BROKER.created = 0
    BROKER.handlers = {CREATE: answer_create, REGISTER: answer_register}
    ssl.contexts.clear()
    root = fleet_root()
    d, _ = make_device(root=root)
    async with Running(d):
        await wait(lambda: d.online() and len(BROKER.connects) == 2, what="own identity")
    with open(root + "/certs/certificate.pem.crt") as f:
        cert = f.read()
    with open(root + "/certs/private.pem.key") as f:
        key = f.read()
    return {
        "claim_subs": [s[0] for s in BROKER.subscriptions[:4]],
        "requests": [[t, p.decode(), q] for (t, p, q, r) in BROKER.published[:2]],
        "registrations": BROKER.registrations,
        "claim_session": {"cert": ssl.contexts[0].cert.decode(), "will": BROKER.connects[0]["will"],
                          "clean_end": BROKER.disconnects},  # fmt: skip
        "own_session": {"cert": ssl.contexts[-1].cert.decode(),
                        "key": ssl.contexts[-1].key.decode(),
                        "will": BROKER.connects[1]["will"] is not None},  # fmt: skip
        "stored": [cert == NEW_CERT, key == NEW_KEY],
        "files": listing(root),
        "needed_after": provision.needed(root, d.cfg),
    }


@acheck("a power cut between the two provisioning calls leaves a light that retries")
async def _():
    BROKER.reset()
    BROKER.registrations = []
    BROKER.created = 0
    BROKER.handlers = {CREATE: answer_create}  # RegisterThing never answered: power cut there
    root = fleet_root()
    d, _ = make_device(root=root)
    async with Running(d):
        await wait(lambda: len(BROKER.sent(REGISTER)) > 0, what="register sent")
    # the power is cut here; what is on flash:
    after_cut = listing(root)
    needed = provision.needed(root, d.cfg)
    BROKER.handlers = {CREATE: answer_create, REGISTER: answer_register}
    d2, _ = make_device(root=root)  # power back: the light boots from its flash
    async with Running(d2):
        await wait(lambda: d2.online(), what="provisioned after retry")
    return {
        "after_cut": after_cut,
        "needed_after_cut": needed,
        "creates": len(BROKER.sent(CREATE)),
        "tokens": [r["certificateOwnershipToken"] for r in BROKER.registrations],
        "files": listing(root),
        "needed_after": provision.needed(root, d2.cfg),
    }


@acheck("a rejected RegisterThing is logged and retried with backoff")
async def _():
    BROKER.reset()
    BROKER.created = 0

    def reject(broker, payload):
        doc = {"statusCode": 403, "errorCode": "AccessDenied", "errorMessage": "serial blocked"}
        broker.send(REGISTER + "/rejected", json.dumps(doc), 1)

    BROKER.handlers = {CREATE: answer_create, REGISTER: reject}
    root = fleet_root()
    d, _ = make_device(root=root)
    async with Running(d):
        await wait(lambda: len(BROKER.sent(REGISTER)) >= 2, what="retry")
    return {
        "logged": [x for x in LOG if "rejected" in x][-1:],
        "files": listing(root),
        "online": d.online(),
    }


@acheck("the endpoint is resolved once, not at every reconnect")
async def _():
    socket.lookups.clear()
    socket.ADDRESSES["iot.example"] = "192.0.2.7"
    calls = []
    fail = [0]

    async def connect(host, port, ssl=None, server_hostname=None):
        calls.append([host, port, ssl, server_hostname])
        if fail[0]:
            raise OSError(113)
        return None, None

    clock_ms = [0]
    cache = {}
    opener = board.caching_opener(
        socket, lambda: clock_ms[0], lambda a, b: a - b, connect, cache
    )
    await opener("iot.example", 8883, "CTX", "iot.example")
    await opener("iot.example", 8883, "CTX", "iot.example")
    fail[0] = 1
    try:
        await opener("iot.example", 8883, "CTX", "iot.example")  # fails: address kept (fresh)
    except OSError:
        pass
    lookups_soon = len(socket.lookups)
    clock_ms[0] = board.RESOLVE_AGAIN_MS
    try:
        await opener("iot.example", 8883, "CTX", "iot.example")  # fails, address old: dropped
    except OSError:
        pass
    fail[0] = 0
    socket.ADDRESSES["iot.example"] = "192.0.2.8"
    await opener("iot.example", 8883, None)
    return {"calls": calls, "lookups_soon": lookups_soon, "lookups": len(socket.lookups)}


await hostcheck.run_async()  # noqa: F704 (top-level await: the harness allows it)
hostcheck.done()
