"""Simulated lights in-process: each runs the real firmware (board.make + Device.run) in its
own thread, with its flash in a folder named after its thing.

    fleet = Fleet.in_state_dir("var/lights", count=3, broker="mqtt://127.0.0.1:18830")
    fleet.start(); fleet.wait_connected()
    fleet.lights["sl-..."].pixels()      # the frame the strip shows, [[r, g, b], ...]
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

from firmware.sim import shims

DEVICE_DIR = Path(__file__).resolve().parent.parent / "device"
THING_PREFIX = "sl-"


def device_modules() -> tuple[ModuleType, ModuleType]:
    """The firmware's `board` and `store` modules, imported by their board names.

    The device folder is appended to sys.path (the board keeps its modules flat); if another
    package already took one of those names, fail loudly instead of running foreign code.
    """
    if str(DEVICE_DIR) not in sys.path:
        sys.path.append(str(DEVICE_DIR))
    import board
    import store

    for module in (board, store):
        if Path(module.__file__ or "").resolve().parent != DEVICE_DIR:
            raise ImportError(f"{module.__name__} resolves to {module.__file__}, not firmware")
    return board, store


def device_module(name: str) -> ModuleType:
    """One firmware module by its board name (e.g. "mqtt"), from firmware/device."""
    device_modules()
    module = __import__(name)
    if Path(module.__file__ or "").resolve().parent != DEVICE_DIR:
        raise ImportError(f"{name} resolves to {module.__file__}, not firmware")
    return module


def new_thing() -> str:
    return THING_PREFIX + secrets.token_hex(6)


class Broker:
    """mqtt://[user:pass@]host:port (or mqtts://) as given on the command line."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker must be mqtt://host:port or mqtts://host:port, not {url!r}")
        self.tls = parts.scheme == "mqtts"
        self.host = parts.hostname
        self.port = parts.port or (8883 if self.tls else 1883)
        self.username = username if username is not None else unquote(parts.username or "") or None
        self.password = password if password is not None else unquote(parts.password or "") or None

    def config(self) -> dict[str, Any]:
        return {
            "endpoint": self.host,
            "port": self.port,
            "tls": self.tls,
            "user": self.username,
            "password": self.password,
        }


def has_certificates(folder: Path, config: dict[str, Any]) -> bool:
    certs = folder / str(config.get("certs", "certs"))
    return (certs / "certificate.pem.crt").exists() or (certs / "claim.pem.crt").exists()


def read_config(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "config.json").read_text())


def write_config(folder: Path, config: dict[str, Any]) -> None:
    tmp = folder / "config.json.tmp"
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, folder / "config.json")


def ensure_folder(
    state_dir: Path,
    thing: str,
    led_count: int,
    max_ma: int,
    broker: Broker | None,
) -> Path:
    """The light's folder with a config.json: created when missing, reused when present
    (only the broker settings follow the command line; led_count and state are kept)."""
    folder = state_dir / thing
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "config.json").exists():
        config = read_config(folder)
    else:
        config = {"thing": thing, "led_count": led_count, "pin": 19, "max_ma": max_ma}
    if broker is not None:
        config.update(broker.config())
    write_config(folder, config)
    return folder


class SimLight:
    """One light: the firmware's Device on shims, in a thread, restarted on machine.reset()."""

    def __init__(
        self,
        folder: Path,
        log: Callable[[str], None] | None = None,
        frame_file_ms: int = 100,
        on_connect: Callable[[SimLight], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        config = read_config(self.folder)
        self.thing: str = config["thing"]
        self.led_count = int(config.get("led_count", 30))
        self.log_line = log or (lambda line: None)
        self.frame_file_ms = frame_file_ms
        self.on_connect = on_connect
        self.machine = shims.Machine()
        self.frames: shims.Frames | None = None
        self.device: Any = None
        self.connections = 0
        self.restarts = 0
        self.errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._built = threading.Event()

    # -- in-process API ---------------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        return dict(self.device.light.state) if self.device else {}

    @property
    def connected(self) -> bool:
        return bool(self.device and self.device.online())

    def pixels(self) -> list[list[int]]:
        """The frame on the strip now, as [r, g, b] per LED (after gamma and limiting)."""
        return self.frames.pixels() if self.frames else []

    def wait_for(self, predicate: Callable[[list[list[int]]], bool], timeout: float = 5) -> bool:
        """Block until a rendered frame satisfies predicate(pixels)."""
        deadline = time.monotonic() + timeout
        self._built.wait(timeout)
        frames = self.frames
        if frames is None:
            return False
        with frames.changed:
            while True:
                if predicate(frames.pixels()):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                frames.changed.wait(left)

    # -- lifecycle --------------------------------------------------------------------------

    def _log(self, *args: object) -> None:
        self.log_line(f"{self.thing} " + " ".join(str(a) for a in args))

    def build(self) -> Any:
        board, _ = device_modules()
        config = read_config(self.folder)
        order = str(config.get("order", "GRB")).upper()
        offsets = (order.index("R"), order.index("G"), order.index("B"))
        self.frames = shims.Frames(self.folder, offsets, self.frame_file_ms)
        device = board.make(
            str(self.folder),
            self.machine,
            shims.neopixel_module(self.frames),
            shims.network_module(),
            __import__("socket"),
            shims.ntptime_module(),
            ssl,  # CPython's: SSLContext with the same calls as the ESP32 port's
            None,  # asyncio.open_connection, as on the board
            self._log,
        )
        self.device = device
        self._built.set()
        return device

    def start(self) -> SimLight:
        device_modules()  # before the thread: it imports the firmware's clock by its board name
        self._thread = threading.Thread(target=self._run, name=self.thing, daemon=True)
        self._thread.start()
        return self

    async def _main(self, device: Any) -> None:
        """The firmware's own frame loop and cloud link on this thread's event loop, plus
        the simulator's bookkeeping (connections, stop requests)."""
        from clock import ticks_diff, ticks_ms  # the firmware's clock

        link = asyncio.create_task(device.link())
        online = False
        try:
            while not self._stop.is_set():
                device.step(ticks_ms())
                if device.online() != online:
                    online = device.online()
                    if online:
                        self.connections += 1
                        if self.on_connect:
                            self.on_connect(self)
                wait = ticks_diff(device.next_frame, ticks_ms())
                await asyncio.sleep(max(0, min(wait, 10)) / 1000)
        finally:
            device.running = False
            link.cancel()
            self._drop_link()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                device = self.build()
                asyncio.run(self._main(device))
            except shims.Reset:
                self.restarts += 1
            except Exception:  # like main.py: log, pause, start over; never stay dark
                self.errors.append(traceback.format_exc())
                self._log("fatal:", traceback.format_exc())
                self._stop.wait(1)

    def _drop_link(self) -> None:
        # A reset or power cut sends no DISCONNECT: the broker publishes the Last Will.
        if self.device is not None:
            self.device.drop("power cut")

    def flush(self) -> None:
        """Save the light state to its folder now (clean shutdown of the simulator)."""
        if self.device is not None:
            self.device.saver.flush(self.device.light.state)

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None


class Fleet:
    def __init__(self, lights: list[SimLight]) -> None:
        self.lights = {light.thing: light for light in lights}

    @classmethod
    def in_state_dir(
        cls,
        state_dir: str | os.PathLike[str],
        count: int | None = None,
        broker: str | Broker | None = None,
        things: list[str] | None = None,
        led_counts: list[int] | None = None,
        max_ma: int = 2000,
        log: Callable[[str], None] | None = None,
        on_connect: Callable[[SimLight], None] | None = None,
        frame_file_ms: int = 100,
    ) -> Fleet:
        """`count` lights under state_dir: the named `things`, else the folders already there
        (in name order), topped up with new thing names."""
        base = Path(state_dir)
        base.mkdir(parents=True, exist_ok=True)
        if isinstance(broker, str):
            broker = Broker(broker)
        if things is None:
            existing = sorted(p for p in base.iterdir() if (p / "config.json").exists())
            things = [read_config(p)["thing"] for p in existing]
            if count is not None:
                things = things[:count]
                things += [new_thing() for _ in range(count - len(things))]
        counts = led_counts or []
        lights = []
        for i, thing in enumerate(things):
            led_count = counts[i] if i < len(counts) else (counts[-1] if counts else 30)
            folder = ensure_folder(base, thing, led_count, max_ma, broker)
            lights.append(SimLight(folder, log, frame_file_ms, on_connect))
        return cls(lights)

    @classmethod
    def from_device_dir(
        cls,
        folder: str | os.PathLike[str],
        broker: str | Broker | None = None,
        log: Callable[[str], None] | None = None,
        on_connect: Callable[[SimLight], None] | None = None,
    ) -> Fleet:
        """One light from a provisioned folder (config.json, certs/), as a board would be.
        Without a broker it connects where config.json says, over TLS when the folder holds
        certificates (its own, or the fleet claim pair to provision itself first)."""
        path = Path(folder)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path / 'config.json'} is missing")
        if isinstance(broker, str):
            broker = Broker(broker)
        config = read_config(path)
        if broker is not None:
            config.update(broker.config())
        else:
            config["tls"] = has_certificates(path, config)
        write_config(path, config)
        return cls([SimLight(path, log, on_connect=on_connect)])

    def start(self) -> Fleet:
        for light in self.lights.values():
            light.start()
        return self

    def wait_connected(self, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(light.connected for light in self.lights.values()):
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        for light in self.lights.values():
            light.stop()

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
