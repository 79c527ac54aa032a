# The device side of the shadow contract (docs/device-contract.md): topics, the handler for
# delta / get / cmd, and the reported documents.
#
# handle() is the only door for data from the network. It never raises: a malformed, oversized
# or unexpected message is logged and dropped, and the light keeps showing what it showed.
import json

import light as light_mod

MAX_MESSAGE = 16384  # AWS IoT shadow documents are at most 8 KB of state plus metadata
COMMANDS = ("identify", "reboot")


def thing_ok(thing):
    if type(thing) is not str or len(thing) != 15 or not thing.startswith("sl-"):
        return False
    for c in thing[3:]:
        if c not in "0123456789abcdef":
            return False
    return True


class Topics:
    def __init__(self, thing):
        base = "$aws/things/" + thing + "/shadow/"
        self.update = base + "update"
        self.delta = base + "update/delta"
        self.get = base + "get"
        self.get_accepted = base + "get/accepted"
        self.get_rejected = base + "get/rejected"
        self.cmd = "smartlight/" + thing + "/cmd"
        self.lwt = "smartlight/" + thing + "/lwt"

    def subscriptions(self):
        return (self.delta, self.get_accepted, self.get_rejected, self.cmd)


LWT_PAYLOAD = '{"state":{"reported":{"connected":false}}}'


class Shadow:
    def __init__(self, thing, light, publish, telemetry, log):
        self.topics = Topics(thing)
        self.light = light
        self.publish = publish  # publish(topic: str, payload: str)
        self.telemetry = telemetry  # () -> dict of reported-only keys
        self.log = log
        self.version = 0
        self.synced = False  # True once get/accepted (or rejected) answered after connect
        self.reboot_requested = False
        self.handled = 0
        self.dropped = 0

    def handle(self, topic, msg, now):
        """Process one MQTT message; True when it was understood and acted on."""
        try:
            return self._handle(topic, msg, now)
        except Exception as e:  # the loop must survive any document (docs/device-contract.md)
            self.dropped += 1
            try:
                self.log("shadow: dropped message:", repr(e))
            except Exception:
                pass
            return False

    def _handle(self, topic, msg, now):
        if type(topic) is bytes:
            topic = topic.decode()
        if msg is None:
            msg = b""
        if len(msg) > MAX_MESSAGE:
            return self._drop("oversized", topic)
        t = self.topics
        if topic not in (t.delta, t.get_accepted, t.get_rejected, t.cmd):
            return self._drop("unexpected topic", topic)
        try:
            doc = json.loads(msg)
        except (ValueError, TypeError, UnicodeError):
            return self._drop("not json", topic)
        if type(doc) is not dict:
            return self._drop("not an object", topic)
        if topic == t.cmd:
            return self._command(doc, now)
        if topic == t.get_rejected:
            # 404 means no shadow yet: our full report creates it.
            self.log("shadow: get rejected", doc.get("code"), doc.get("message"))
            self.synced = True
            self.report_full()
            self.handled += 1
            return True
        self._note_version(doc)
        state = doc.get("state")
        if type(state) is not dict:
            return self._drop("no state", topic)
        if topic == t.get_accepted:
            desired = state.get("desired")
            if type(desired) is dict:
                self.light.apply(desired, now)
            self.synced = True
            self.report_full()
        else:
            self.light.apply(state, now)
            self.report_state()
        self.handled += 1
        return True

    def _note_version(self, doc):
        v = doc.get("version")
        if type(v) is int:
            self.version = v

    def _command(self, doc, now):
        cmd = doc.get("cmd")
        if cmd == "identify":
            self.light.identify(now)
        elif cmd == "reboot":
            self.reboot_requested = True
        else:
            return self._drop("unknown command", repr(cmd)[:40])
        self.log("cmd", cmd, doc.get("id"))
        self.handled += 1
        return True

    def _drop(self, why, what):
        self.dropped += 1
        self.log("shadow: ignored", why, what)
        return False

    def state_doc(self):
        s = self.light.state
        reported = {}
        for key in light_mod.KEYS:
            reported[key] = s[key]
        return reported

    def report_state(self):
        """Report what the light now shows; equal values clear the delta in the shadow.

        power_ma is left out: the new look has not been rendered yet, so the figure would be
        the old one. app.py reports it once the change has settled.
        """
        self._send(self.state_doc())

    def report_full(self):
        reported = self.state_doc()
        reported["connected"] = True
        tel = self.telemetry()
        for key in tel:
            reported[key] = tel[key]
        self._send(reported)

    def report(self, reported):
        self._send(reported)

    def _send(self, reported):
        self.publish(self.topics.update, json.dumps({"state": {"reported": reported}}))
