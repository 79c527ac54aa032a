# Builds a Device from the standard MicroPython modules. main.py passes the real ones of the
# official ESP32 build; the simulator passes per-light shims with the same API, so both run
# exactly this wiring.
import gc
import random

import app
import store
import wifimgr


def make(root, machine, neopixel, network, socket, ntptime, MQTTClient, ssl, log=print):
    cfg = store.load_config(root, log)
    strip = neopixel.NeoPixel(machine.Pin(int(cfg["pin"]), machine.Pin.OUT), int(cfg["led_count"]))
    wdt_ms = int(cfg.get("wdt_ms", 0))
    wdt = machine.WDT(timeout=wdt_ms) if wdt_ms > 0 else None
    wifi = wifimgr.WifiManager(network, socket, root, cfg["thing"], log)

    def certs(name):
        return store.path(root, cfg["certs"] + "/" + name)

    def make_client():
        ctx = None
        if cfg.get("tls", True):
            # Mutual TLS to AWS IoT on 8883: the official ESP32 build has no ALPN, so 443 is
            # out. wrap_socket(server_hostname=endpoint) in umqtt sends SNI, which IoT Core
            # requires to pick the account's endpoint.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=certs("AmazonRootCA1.pem"))
            ctx.load_cert_chain(certs("certificate.pem.crt"), certs("private.pem.key"))
        return MQTTClient(
            cfg["thing"],
            cfg["endpoint"],
            port=int(cfg["port"]),
            user=cfg.get("user"),
            password=cfg.get("password"),
            keepalive=int(cfg.get("keepalive_s", 45)),
            ssl=ctx,
        )

    def sync_time():
        ntptime.host = cfg.get("ntp_host", "pool.ntp.org")
        ntptime.settime()

    def heap_free():
        try:
            return gc.mem_free()
        except AttributeError:  # CPython (simulator): no MicroPython heap to report
            return 0

    def rand(n):
        return random.getrandbits(16) * n >> 16

    return app.Device(
        cfg, root, strip, wifi, make_client, sync_time, machine.reset, wdt, heap_free, rand, log
    )
