"""CPython stand-ins for the board's hardware modules, one set per simulated light.

board.make() receives these where main.py passes `machine`, `neopixel`, `network` and
`ntptime`, so the simulator runs the same wiring as the ESP32. The strip records its frames;
the flash is the light's folder; WiFi is always in range; the host clock is already right.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace


class Reset(Exception):  # noqa: N818 (it is a reset, not an error)
    """machine.reset() on the simulator: the light's loop restarts it from its folder."""


class Pin:
    OUT = 1
    IN = 0

    def __init__(self, id: int, mode: int = -1, *args: object, **kwargs: object) -> None:
        self.id = id
        self.mode = mode


class Watchdog:
    def __init__(self, timeout: int = 5000) -> None:
        self.timeout = timeout
        self.last_feed = time.monotonic()

    def feed(self) -> None:
        self.last_feed = time.monotonic()

    def starved(self) -> bool:
        return (time.monotonic() - self.last_feed) * 1000 > self.timeout


class Machine:
    """The `machine` module of one light."""

    Pin = Pin

    def __init__(self) -> None:
        self.resets = 0
        self.watchdogs: list[Watchdog] = []

    def WDT(self, id: int = 0, timeout: int = 5000) -> Watchdog:  # noqa: N802 (MicroPython name)
        wdt = Watchdog(timeout)
        self.watchdogs.append(wdt)
        return wdt

    def reset(self) -> None:
        self.resets += 1
        raise Reset()

    def unique_id(self) -> bytes:
        return b"\x00SIM\x00\x01"


class Frames:
    """A light's rendered frames: the latest one in memory, and `frame.json` in its folder.

    The file is rewritten atomically (temp file + rename) at most every `interval_ms` and
    only when the frame changed, so readers (tests, the portal) never see half a file.
    """

    def __init__(self, folder: Path, order: tuple[int, int, int], interval_ms: int = 100) -> None:
        self.folder = folder
        self.order = order
        self.interval = interval_ms / 1000
        self.buf = b""
        self.seq = 0
        self.written = b""
        self.written_at = 0.0
        self.changed = threading.Condition()
        self.listeners: list[Callable[[bytes, int], None]] = []

    def record(self, buf: bytearray) -> None:
        data = bytes(buf)
        with self.changed:
            self.buf = data
            self.seq += 1
            self.changed.notify_all()
        for listener in self.listeners:
            listener(data, self.seq)
        now = time.monotonic()
        if data != self.written and now - self.written_at >= self.interval:
            self.write(data, now)

    def pixels(self, data: bytes | None = None) -> list[list[int]]:
        data = self.buf if data is None else data
        o_r, o_g, o_b = self.order
        return [[data[j + o_r], data[j + o_g], data[j + o_b]] for j in range(0, len(data), 3)]

    def write(self, data: bytes, now: float) -> None:
        doc = {"pixels": self.pixels(data), "seq": self.seq, "time": time.time()}
        tmp = self.folder / "frame.json.tmp"
        tmp.write_text(json.dumps(doc, separators=(",", ":")))
        os.replace(tmp, self.folder / "frame.json")
        self.written = data
        self.written_at = now


class Strip:
    """neopixel.NeoPixel with the same buffer; write() hands the frame to the recorder."""

    def __init__(self, pin: Pin, n: int, frames: Frames, bpp: int = 3) -> None:
        self.pin = pin
        self.n = n
        self.bpp = bpp
        self.buf = bytearray(n * bpp)
        self.frames = frames

    def __len__(self) -> int:
        return self.n

    def write(self) -> None:
        self.frames.record(self.buf)


def neopixel_module(frames: Frames) -> SimpleNamespace:
    def NeoPixel(pin: Pin, n: int, bpp: int = 3, timing: int = 1) -> Strip:  # noqa: N802
        return Strip(pin, n, frames, bpp)

    return SimpleNamespace(NeoPixel=NeoPixel)


class WLAN:
    """A station that is always joined to the simulated network."""

    def __init__(self, interface: int = 0) -> None:
        self.interface = interface
        self._active = True

    def active(self, value: bool | None = None) -> bool:
        if value is not None:
            self._active = bool(value)
        return self._active

    def scan(self) -> list[tuple]:
        return [(b"simulated", b"\x02\x00\x00\x00\x00\x01", 6, -50, 3, False)]

    def connect(self, ssid: str, password: str | None = None) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def isconnected(self) -> bool:
        return self.interface == 0

    def status(self, param: str | None = None) -> int:
        if param == "rssi":
            return -50 - random.randrange(8)
        return 1010

    def config(self, *args: object, **kwargs: object) -> None:
        return None

    def ifconfig(self, *args: object) -> tuple[str, str, str, str]:
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")


def network_module() -> SimpleNamespace:
    return SimpleNamespace(STA_IF=0, AP_IF=1, AUTH_OPEN=0, AUTH_WPA2_PSK=3, WLAN=WLAN)


def ntptime_module() -> SimpleNamespace:
    # The host clock is already NTP-disciplined; settime() has nothing to do.
    return SimpleNamespace(host="pool.ntp.org", settime=lambda: None)
