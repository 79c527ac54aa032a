# The device: frame loop, cloud link, persistence, watchdog and offline reboot, wired from
# injected parts (board.py passes the real ESP32 modules, the simulator passes shims) so the
# same code runs on the board, under MicroPython in Node and under CPython.
import backoff
import effects
import light
import render
import shadow
import store
from clock import sleep_ms, ticks_add, ticks_diff, ticks_ms

FW_VERSION = "1.0.0"
TELEMETRY_MS = 300000  # rssi/heap/uptime/power refresh while nothing else is reported
POWER_REPORT_MS = 2000  # at most one power_ma update this often
POWER_REPORT_DELTA = 50  # mA; smaller drifts wait for the periodic telemetry
REBOOT_DELAY_MS = 300  # let the "cmd reboot" log line and a last report leave first
LIVENESS_FACTOR = 3  # keepalives without any message before probing the link with `get`
PROBE_TIMEOUT_MS = 10000


def channel_order(order):
    """Byte offsets (red, green, blue) in the strip buffer; WS2813 strips are "GRB"."""
    order = str(order).upper()
    if len(order) != 3 or "R" not in order or "G" not in order or "B" not in order:
        order = "GRB"
    return (order.index("R"), order.index("G"), order.index("B"))


class Device:
    def __init__(
        self, cfg, root, strip, wifi, make_client, sync_time, reset, wdt, heap_free, rand, log
    ):
        self.cfg = cfg
        self.thing = cfg["thing"]
        self.wifi = wifi
        self.make_client = make_client  # () -> umqtt.simple.MQTTClient, not yet connected
        self.sync_time = sync_time
        self.reset = reset
        self.wdt = wdt
        self.heap_free = heap_free
        self.log = log
        now = ticks_ms()
        self.booted = now
        self.now = now
        n = int(cfg["led_count"])
        self.renderer = render.Renderer(
            n,
            strip,
            int(cfg["max_ma"]),
            channel_order(cfg.get("order", "GRB")),
            int(cfg.get("ma_channel", 20)),
            int(cfg.get("idle_ma", 1)),
        )
        effects.seed(rand(65536))
        # Restore the saved look before the network is touched: after a power cut the light
        # is right again within a frame, whether or not the cloud is reachable.
        self.saver = store.Saver(root)
        self.light = light.Light(self.renderer, self.saver.load())
        self.light.show(now, 0)
        self.seen_changes = self.light.changes
        self.shadow = shadow.Shadow(self.thing, self.light, self.publish, self.telemetry, log)
        self.backoff = backoff.Backoff(rand)
        fps = int(cfg.get("fps", 50))
        self.frame_ms = 1000 // (fps if fps > 0 else 50)
        self.next_frame = now
        self.keepalive_s = int(cfg.get("keepalive_s", 45))
        self.client = None
        self.broken = False
        self.retry_at = None
        self.time_ok = False
        self.last_cloud = now  # last moment the link was up (offline reboot timer)
        self.last_rx = now
        self.last_ping = now
        self.probe_at = None
        self.telemetry_at = now
        self.power_at = now
        self.power_reported = -1
        self.reboot_at = None
        self.connects = 0
        self.running = True
        # A thing name outside the contract cannot be the client id AWS IoT's policy allows;
        # the light still works from flash, it just never tries the cloud.
        self.thing_valid = shadow.thing_ok(self.thing)
        if not self.thing_valid:
            log("config: thing must be 'sl-' + 12 lowercase hex, got", repr(self.thing))

    # -- cloud link -----------------------------------------------------------------------

    def online(self):
        return self.client is not None

    def publish(self, topic, payload):
        # Called from inside the message callback too: a failed write must not raise into
        # umqtt's reader, so it only marks the link broken and step() reconnects.
        if self.client is None:
            return
        if type(payload) is str:
            # umqtt.simple sizes the packet with len(msg): characters, not bytes, for a str.
            payload = payload.encode()
        try:
            self.client.publish(topic, payload)
        except Exception as e:
            self.log("cloud: publish failed", repr(e))
            self.broken = True

    def on_message(self, topic, msg):
        self.last_rx = self.now
        self.probe_at = None
        self.shadow.handle(topic, msg, self.now)

    def connect(self, now):
        self.connects += 1
        client = None
        try:
            if self.cfg.get("tls", True) and not self.time_ok:
                # TLS checks certificate validity dates: the clock must be right first.
                self.sync_time()
                self.time_ok = True
            client = self.make_client()
            client.set_callback(self.on_message)
            # AWS IoT delivers the Last Will when the connection drops without DISCONNECT
            # (MQTT 3.1.1 section 3.1.2.5); QoS 1 per the device contract.
            client.set_last_will(self.shadow.topics.lwt, shadow.LWT_PAYLOAD, False, 1)
            client.connect()
            self.client = client
            self.broken = False
            for topic in self.shadow.topics.subscriptions():
                client.subscribe(topic, 1)
            self.shadow.synced = False
            self.publish(self.shadow.topics.get, "")
        except Exception as e:
            self.log("cloud: connect failed", repr(e))
            self.client = None
            self.close(client)
            self.retry_at = ticks_add(now, self.backoff.next_ms())
            return False
        self.log("cloud: connected", self.thing)
        self.backoff.reset()
        self.retry_at = None
        self.last_cloud = now
        self.last_rx = now
        self.last_ping = now
        self.probe_at = None
        return True

    def close(self, client):
        if client is None:
            return
        try:
            client.sock.close()
        except Exception:
            pass

    def drop(self, now, why):
        # No DISCONNECT on purpose: the broker must see an unclean loss and publish the LWT.
        self.log("cloud: link lost", why)
        self.close(self.client)
        self.client = None
        self.retry_at = ticks_add(now, self.backoff.next_ms())

    def service_link(self, now):
        if self.client is None:
            if not self.thing_valid or not self.wifi.isconnected():
                return
            if self.retry_at is not None and ticks_diff(now, self.retry_at) < 0:
                return
            self.connect(now)
            return
        try:
            self.client.check_msg()
            if self.broken:
                raise OSError("write failed")
            if ticks_diff(now, self.last_ping) >= self.keepalive_s * 500:
                # umqtt.simple never pings by itself; half the keepalive keeps us well
                # inside the broker's 1.5x grace (MQTT 3.1.1 section 3.1.2.10).
                self.client.ping()
                self.last_ping = now
            if self.probe_at is None:
                if ticks_diff(now, self.last_rx) >= self.keepalive_s * 1000 * LIVENESS_FACTOR:
                    # umqtt.simple swallows PINGRESP, so a silent dead link is only noticed
                    # by asking for something: the shadow `get` answers on a live link.
                    self.probe_at = now
                    self.publish(self.shadow.topics.get, "")
            elif ticks_diff(now, self.probe_at) >= PROBE_TIMEOUT_MS:
                raise OSError("no answer to get")
        except Exception as e:
            self.drop(now, repr(e))
            return
        if self.broken:
            self.drop(now, "write failed")
            return
        self.last_cloud = now
        if self.shadow.synced:
            self.report_telemetry(now)

    def telemetry(self):
        return {
            "fw": FW_VERSION,
            "led_count": self.renderer.n,
            "max_ma": self.renderer.max_ma,
            "power_ma": self.renderer.power_ma,
            "effects": list(effects.NAMES),
            "rssi": self.wifi.rssi(),
            "heap_free": self.heap_free(),
            "uptime_s": ticks_diff(self.now, self.booted) // 1000,
        }

    def report_telemetry(self, now):
        p = self.renderer.power_ma
        if ticks_diff(now, self.telemetry_at) >= TELEMETRY_MS:
            self.telemetry_at = now
            self.power_reported = p
            self.power_at = now
            self.shadow.report(
                {
                    "power_ma": p,
                    "rssi": self.wifi.rssi(),
                    "heap_free": self.heap_free(),
                    "uptime_s": ticks_diff(now, self.booted) // 1000,
                }
            )
        elif (
            abs(p - self.power_reported) >= POWER_REPORT_DELTA
            and ticks_diff(now, self.power_at) >= POWER_REPORT_MS
            and not self.renderer.fading(now)
        ):
            self.power_reported = p
            self.power_at = now
            self.shadow.report({"power_ma": p})

    # -- the loop -------------------------------------------------------------------------

    def step(self, now):
        """One pass of the main loop: frame when due, watchdog, network, flash."""
        self.now = now
        if ticks_diff(now, self.next_frame) >= 0:
            self.renderer.frame(now)
            self.next_frame = ticks_add(self.next_frame, self.frame_ms)
            if ticks_diff(now, self.next_frame) >= 0:
                self.next_frame = ticks_add(now, self.frame_ms)  # fell behind: skip, no burst
        if self.wdt is not None:
            self.wdt.feed()
        try:
            self.wifi.poll(now)
        except Exception as e:
            self.log("wifi: error", repr(e))
        self.service_link(now)
        if self.light.changes != self.seen_changes:
            self.seen_changes = self.light.changes
            self.saver.changed(now)
            # A new look goes out on this pass, not at the next frame slot up to frame_ms later.
            self.renderer.frame(now)
            self.next_frame = ticks_add(now, self.frame_ms)
        try:
            self.saver.poll(now, self.light.state)
        except Exception as e:  # a full or failing flash must not stop the light
            self.log("store: write failed", repr(e))
        if self.shadow.reboot_requested and self.reboot_at is None:
            self.reboot_at = ticks_add(now, REBOOT_DELAY_MS)
        offline_ms = int(self.cfg.get("offline_reboot_s", 900)) * 1000
        offline = self.client is None and ticks_diff(now, self.last_cloud) >= offline_ms
        if offline_ms > 0 and offline and self.thing_valid:  # a reboot cannot fix the config
            self.log("cloud: offline too long, rebooting")
            self.reboot_at = now
        if self.reboot_at is not None and ticks_diff(now, self.reboot_at) >= 0:
            self.reboot_at = None
            self.shadow.reboot_requested = False
            self.reboot()

    def reboot(self):
        try:
            self.saver.flush(self.light.state)
        except Exception:
            pass
        self.reset()

    def run(self):
        while self.running:
            self.step(ticks_ms())
            wait = ticks_diff(self.next_frame, ticks_ms())
            if wait > 0:
                sleep_ms(wait if wait < 10 else 10)
