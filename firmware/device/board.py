# Builds a Device from the standard MicroPython modules. main.py passes the real ones of the
# official ESP32 build; the simulator passes per-light shims with the same API, so both run
# exactly this wiring.
import asyncio
import gc
import random
import sys

import app
import mqtt
import provision
import store
import wifimgr

# asyncio.open_connection(..., ssl=SSLContext) and the ssl module with SSLContext arrived in
# MicroPython v1.22; older images cannot make the TLS connection AWS IoT needs.
MIN_MICROPYTHON = (1, 22)


def check_runtime(log, impl=None):
    """Log the runtime and whether this firmware supports it; False when it does not."""
    if impl is None:
        impl = sys.implementation
    version = tuple(impl.version[:2])
    name = impl.name + " " + ".".join([str(v) for v in impl.version[:3]])
    if impl.name == "micropython" and version < MIN_MICROPYTHON:
        log("runtime:", name, "is too old: this firmware needs MicroPython 1.22 or newer")
        return False
    log("runtime:", name, "supported")
    return True


RESOLVE_AGAIN_MS = 600000  # a failing connect re-resolves the endpoint at most this often


def caching_opener(socket, ticks_ms, ticks_diff, connect=None, cache=None):
    """asyncio.open_connection with the endpoint's address remembered.

    getaddrinfo is a blocking call on the ESP32 port (seconds against a dead resolver): it
    runs once, and again only when a connection fails and the address is older than
    RESOLVE_AGAIN_MS, so a light waiting out an outage does not freeze its frames on DNS at
    every attempt. TLS still checks the certificate against the endpoint name (SNI)."""
    if cache is None:
        cache = {}

    async def opener(host, port, ssl=None, server_hostname=None):
        hit = cache.get(host)
        if hit is None:
            hit = (socket.getaddrinfo(host, port)[0][-1][0], ticks_ms())
            cache[host] = hit
        conn = connect or asyncio.open_connection
        try:
            if ssl is None:
                return await conn(hit[0], port)
            return await conn(hit[0], port, ssl=ssl, server_hostname=server_hostname or host)
        except Exception:
            if ticks_diff(ticks_ms(), hit[1]) >= RESOLVE_AGAIN_MS:
                cache.pop(host, None)
            raise

    return opener


def make(root, machine, neopixel, network, socket, ntptime, ssl, open_connection=None, log=print):
    check_runtime(log)
    cfg = store.load_config(root, log)
    strip = neopixel.NeoPixel(machine.Pin(int(cfg["pin"]), machine.Pin.OUT), int(cfg["led_count"]))
    wdt_ms = int(cfg.get("wdt_ms", 0))
    wdt = machine.WDT(timeout=wdt_ms) if wdt_ms > 0 else None
    wifi = wifimgr.WifiManager(
        network, socket, root, cfg["thing"], log, ap_password=cfg.get("ap_password"),
        serial=cfg.get("serial"), claim_code=cfg.get("claim_code"),
    )

    if open_connection is None:
        from clock import ticks_diff, ticks_ms

        open_connection = caching_opener(socket, ticks_ms, ticks_diff)

    def certs(name):
        return store.path(root, cfg["certs"] + "/" + name)

    def make_client(claim=False):
        ctx = None
        if cfg.get("tls", True):
            # Mutual TLS to AWS IoT on 8883 (the official ESP32 build has no ALPN, so 443 is
            # out). The client passes server_hostname=endpoint: SNI, which IoT Core requires
            # to pick the account's endpoint.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=certs("AmazonRootCA1.pem"))
            if claim:
                ctx.load_cert_chain(certs(provision.CLAIM_CERT), certs(provision.CLAIM_KEY))
            else:
                ctx.load_cert_chain(certs(provision.CERT), certs(provision.KEY))
        return mqtt.MQTTClient(
            cfg["thing"],
            cfg["endpoint"],
            port=int(cfg["port"]),
            user=cfg.get("user"),
            password=cfg.get("password"),
            keepalive=int(cfg.get("keepalive_s", 45)),
            ssl=ctx,
            server_hostname=cfg["endpoint"],
            open_connection=open_connection,
            timeout_ms=int(cfg.get("mqtt_timeout_ms", 10000)),
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
