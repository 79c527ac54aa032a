# The device: frame loop, cloud link, persistence, watchdog and offline reboot, wired from
# injected parts (board.py passes the real ESP32 modules, the simulator passes shims) so the
# same code runs on the board, under MicroPython in Node and under CPython.
import asyncio

import backoff
import effects
import light
import mqtt
import provision
import render
import shadow
import store
from clock import ticks_add, ticks_diff, ticks_ms

FW_VERSION = "1.0.0"
POWER_REPORT_MS = 2000  # at most one power_ma update this often
POWER_REPORT_DELTA = 50  # mA; smaller drifts wait for the periodic telemetry
REBOOT_DELAY_MS = 300  # let the "cmd reboot" log line and a last report leave first
GET_RETRY_MS = 10000  # a shadow `get` unanswered this long is asked again (QoS 0 may be lost)


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
        self.root = root
        # make_client(claim) -> mqtt.MQTTClient, not yet connected; claim=True connects with
        # the fleet claim certificate
        self.make_client = make_client
        self.sync_time = sync_time
        self.reset = reset
        self.wdt = wdt
        self.heap_free = heap_free
        self.log = log
        now = ticks_ms()
        self.booted = now
        self.now = now
        n = int(cfg["led_count"])
        # The supply feeds the board too (WLED reserves 100 mA for the ESP32): the strip gets
        # what is left. max_ma 0 means no limit.
        self.max_ma = int(cfg["max_ma"])
        strip_ma = self.max_ma - int(cfg.get("board_ma", 100)) if self.max_ma > 0 else 0
        self.renderer = render.Renderer(
            n,
            strip,
            strip_ma if strip_ma > 0 or self.max_ma == 0 else 1,
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
        self.client = None
        self.claim_client = None
        self.time_ok = False
        self.last_cloud = now  # last moment the link was up (offline reboot timer)
        self.uptime_s = 0
        self.up_ms = 0
        self.up_last = now
        self.telemetry_ms = int(cfg.get("telemetry_s", 0)) * 1000
        self.telemetry_at = now
        self.power_at = now
        self.power_reported = -1
        self.reboot_at = None
        self.get_retry_ms = GET_RETRY_MS
        self.get_at = now
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
        # Called from inside the message callback too: it only queues, the client's sender
        # task writes, and a link that cannot keep up is reset and resynced.
        if self.client is not None:
            self.client.publish_nowait(topic, payload)

    def on_message(self, topic, msg):
        now = ticks_ms()
        self.shadow.handle(topic, msg, now)
        self.show_changes(now)

    def show_changes(self, now):
        if self.light.changes != self.seen_changes:
            self.seen_changes = self.light.changes
            self.saver.changed(now)
            # A new look goes out as the message is handled, not at the next frame slot.
            self.renderer.frame(now)
            self.next_frame = ticks_add(now, self.frame_ms)

    async def link(self):
        """The cloud link, forever: (provision,) connect, follow the shadow, back off, again."""
        while self.running:
            if not self.thing_valid or not self.wifi.isconnected():
                await mqtt.sleep_ms(250)
                continue
            try:
                if self.cfg.get("tls", True) and not self.time_ok:
                    # TLS checks certificate validity dates: the clock must be right first.
                    self.sync_time()
                    self.time_ok = True
                if self.needs_provisioning():
                    await self.provision()
                await self.session()
            except Exception as e:
                self.log("cloud: connect failed", repr(e))
            self.client = None
            if self.running:
                await mqtt.sleep_ms(self.backoff.next_ms())

    async def session(self):
        self.connects += 1
        client = self.make_client(False)
        client.set_callback(self.on_message)
        # AWS IoT delivers the Last Will when the connection drops without DISCONNECT
        # (MQTT 3.1.1 section 3.1.2.5); QoS 1 per the device contract.
        client.set_last_will(self.shadow.topics.lwt, shadow.LWT_PAYLOAD, False, 1)
        try:
            await client.connect()
            for topic in self.shadow.topics.subscriptions():
                await client.subscribe(topic, 1)
        except BaseException:
            client.close()
            raise
        self.client = client
        self.shadow.synced = False
        self.ask_shadow(ticks_ms())
        self.log("cloud: connected", self.thing)
        self.backoff.reset()
        self.last_cloud = ticks_ms()
        try:
            why = await client.wait_closed()
        finally:
            self.client = None
            client.close()
        self.log("cloud: link lost", why)

    def ask_shadow(self, now):
        # The answer brings what was asked while the light was away; until it comes the light
        # reports nothing (its report could overwrite a change it has not seen yet).
        self.get_at = now
        self.publish(self.shadow.topics.get, "")

    def needs_provisioning(self):
        return provision.needed(self.root, self.cfg)

    async def provision(self):
        client = self.make_client(True)
        self.claim_client = client
        try:
            await provision.run(client, self.root, self.cfg, self.log)
        finally:
            self.claim_client = None
            client.close()

    def drop(self, why):
        # No DISCONNECT on purpose: the broker must see an unclean loss and publish the LWT.
        for client in (self.client, self.claim_client):
            if client is not None:
                client.close(why)
        self.client = None
        self.claim_client = None

    def telemetry(self):
        return {
            "fw": FW_VERSION,
            "led_count": self.renderer.n,
            "max_ma": self.max_ma,
            "power_ma": self.renderer.power_ma,
            "effects": list(effects.NAMES),
            "rssi": self.wifi.rssi(),
            "heap_free": self.heap_free(),
            "uptime_s": self.uptime_s,
        }

    def report_telemetry(self, now):
        # Every report is a billed shadow update (and a rule trigger downstream): an idle
        # light only reports what changed. rssi/heap/uptime go out with the full report after
        # each connect, and every telemetry_s when that is set (0 = never on its own).
        p = self.renderer.power_ma
        if self.telemetry_ms > 0 and ticks_diff(now, self.telemetry_at) >= self.telemetry_ms:
            self.telemetry_at = now
            self.power_reported = p
            self.power_at = now
            self.shadow.report(
                {
                    "power_ma": p,
                    "rssi": self.wifi.rssi(),
                    "heap_free": self.heap_free(),
                    "uptime_s": self.uptime_s,
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

    def tick_uptime(self, now):
        # ticks_ms wraps (every 2**30 ms, about 12.4 days on the ESP32): whole seconds are
        # accumulated from short differences instead, a small int for 34 years.
        self.up_ms += ticks_diff(now, self.up_last)
        self.up_last = now
        if self.up_ms >= 1000:
            self.uptime_s += self.up_ms // 1000
            self.up_ms %= 1000

    # -- the loop -------------------------------------------------------------------------

    def step(self, now):
        """One pass of the main loop: frame when due, watchdog, WiFi, reports, flash."""
        self.now = now
        self.tick_uptime(now)
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
        if self.client is not None:
            self.last_cloud = now
            if self.shadow.synced:
                self.report_telemetry(now)
            elif ticks_diff(now, self.get_at) >= self.get_retry_ms:
                self.log("shadow: get unanswered, asking again")
                self.ask_shadow(now)
        self.show_changes(now)
        try:
            self.saver.poll(now, self.light.state)
        except Exception as e:  # a full or failing flash must not stop the light
            self.log("store: write failed", repr(e))
        if self.shadow.reboot_requested and self.reboot_at is None:
            self.reboot_at = ticks_add(now, REBOOT_DELAY_MS)
        offline_ms = int(self.cfg.get("offline_reboot_s", 900)) * 1000
        offline = self.client is None and ticks_diff(now, self.last_cloud) >= offline_ms
        if self.wifi.portal_open():
            # Someone may be on the setup page right now: a reboot would throw them out.
            self.last_cloud = now
        elif offline_ms > 0 and offline and self.thing_valid:  # a reboot cannot fix the config
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
        self.drop("reboot")
        self.reset()

    async def frames(self):
        """The frame loop: one step() per pass, yielding to the link between frames."""
        while self.running:
            self.step(ticks_ms())
            wait = ticks_diff(self.next_frame, ticks_ms())
            await mqtt.sleep_ms(wait if wait > 0 else 0)

    async def main(self):
        link = asyncio.create_task(self.link())
        try:
            await self.frames()
        finally:
            link.cancel()
            self.drop("stopped")

    def run(self):
        asyncio.run(self.main())
