# Flash: the device configuration and the saved light state.
#
# Flash cells wear out, so the state is written debounced: once changes stop it is written
# QUIET_MS after the last one (well within 5 s), and while changes keep coming (a slider
# dragged, an effect cycled by a schedule) at most once every MAX_DELAY_MS. A write goes to a
# temporary file and is renamed over the old one, so a power cut mid-write leaves the previous
# state intact (LittleFS renames atomically).
import json
import os

from clock import ticks_diff

# Defaults, overridden by the device-local /config.json (never committed; see
# config.example.json). docs/device-contract.md names the keys provisioning writes.
CONFIG = {
    "thing": "",
    "endpoint": "",
    "port": 8883,
    "tls": True,
    "user": None,
    "password": None,
    "led_count": 30,
    "pin": 19,
    "order": "GRB",
    # WLED's default for a 5 V / 1 A supply; the board's own draw (board_ma) is taken off it
    "max_ma": 850,
    "board_ma": 100,
    "ma_channel": 20,
    "idle_ma": 1,
    "keepalive_s": 45,
    "fps": 50,
    "offline_reboot_s": 900,
    "telemetry_s": 0,  # periodic rssi/heap/uptime report; 0: only with the report on connect
    "mqtt_timeout_ms": 10000,  # every wait of the MQTT client (connect, SUBACK, PUBACK, PING)
    # The loop never waits on the network, but DNS lookups and the NTP query are blocking
    # calls of the ESP32 port (a few seconds against a dead resolver).
    "wdt_ms": 30000,
    "ntp_host": "pool.ntp.org",
    "certs": "certs",
    # fleet-provisioned lights: serial, template, claim code, setup access point password
    "serial": None,
    "template": None,
    "claim_code": None,
    "ap_password": None,
}

STATE_FILE = "state.json"
QUIET_MS = 2000
MAX_DELAY_MS = 60000


def path(root, name):
    return root + "/" + name if root else "/" + name


def read_json(root, name):
    try:
        with open(path(root, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(root, name, doc):
    tmp = path(root, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(doc))
    try:
        os.rename(tmp, path(root, name))
    except OSError:
        # FAT cannot rename over an existing file.
        try:
            os.remove(path(root, name))
        except OSError:
            pass
        os.rename(tmp, path(root, name))


# keepalive: AWS IoT Core accepts 30..1200 s (IoT Core quotas, "Keep-alive interval").
LIMITS = {
    "led_count": (1, 1000),
    "max_ma": (0, 100000),
    "fps": (1, 100),
    "port": (1, 65535),
    "keepalive_s": (30, 1200),
    "board_ma": (0, 5000),
    "telemetry_s": (0, 86400),
    "mqtt_timeout_ms": (1000, 60000),
    "offline_reboot_s": (0, 86400),
    "wdt_ms": (0, 600000),
}


STRINGS = ("user", "password", "serial", "template", "claim_code", "ap_password")


def load_config(root, log=None):
    """CONFIG overridden by /config.json. A value of the wrong type or out of range is
    logged and the default kept: a typo in the file must not boot-loop the light."""
    cfg = dict(CONFIG)
    doc = read_json(root, "config.json")
    if type(doc) is not dict:
        if log:
            log("config: no usable config.json, defaults only")
        return cfg
    for key in doc:
        value = doc[key]
        default = CONFIG.get(key)
        ok = True
        if default is not None and type(value) is not type(default):
            ok = False
        elif key in STRINGS and value is not None and type(value) is not str:
            ok = False
        elif key in LIMITS and not LIMITS[key][0] <= value <= LIMITS[key][1]:
            ok = False
        if ok:
            cfg[key] = value
        elif log:
            log("config: ignored", key, repr(value)[:40])
    return cfg


class Saver:
    def __init__(self, root, quiet_ms=QUIET_MS, max_delay_ms=MAX_DELAY_MS):
        self.root = root
        self.quiet_ms = quiet_ms
        self.max_delay_ms = max_delay_ms
        self.dirty = False
        self.first = 0  # when the unsaved changes began
        self.last = 0  # the latest change
        self.saved = None  # what flash holds, to skip writes that change nothing
        self.writes = 0

    def load(self):
        doc = read_json(self.root, STATE_FILE)
        if type(doc) is dict:
            self.saved = doc
            return doc
        return None

    def changed(self, now):
        if not self.dirty:
            self.dirty = True
            self.first = now
        self.last = now

    def due(self, now):
        if not self.dirty:
            return False
        return (
            ticks_diff(now, self.last) >= self.quiet_ms
            or ticks_diff(now, self.first) >= self.max_delay_ms
        )

    def poll(self, now, state):
        """Write state when due; True when flash was written."""
        if not self.due(now):
            return False
        self.dirty = False
        return self.flush(state)

    def flush(self, state):
        """Write state now unless flash already holds it (before a reboot)."""
        self.dirty = False
        if state == self.saved:
            return False
        doc = dict(state)
        write_json(self.root, STATE_FILE, doc)
        self.saved = doc
        self.writes += 1
        return True
