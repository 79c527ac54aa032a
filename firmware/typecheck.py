"""python -m firmware.typecheck: the device files type-checked against the ESP32 port's API.

mypy runs with MicroPython's standard library (micropython-stdlib-stubs) in place of
CPython's typeshed and the ESP32 port's modules (micropython-esp32-stubs: machine, network,
neopixel, ntptime, socket, time with ticks_ms, ...) on its path, so a call that the board's
firmware does not have, or has with another signature, fails here and not on the board.

The stub packages install their modules at the top of site-packages; they are gathered into a
private folder first so mypy sees only them, not the host's CPython packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

DEVICE = Path(__file__).resolve().parent / "device"
ESP32_STUBS = "micropython-esp32-stubs"
STDLIB_STUBS = "micropython-stdlib-stubs"


class StubsMissing(RuntimeError):
    pass


def _top_level(dist_name: str) -> dict[str, Path]:
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError as e:
        raise StubsMissing(
            f"{dist_name} is not installed (pip install -r requirements-dev.txt)"
        ) from e
    tops: dict[str, Path] = {}
    for f in dist.files or []:
        parts = f.parts
        if not parts or parts[0].endswith(".dist-info") or parts[0] == "__pycache__":
            continue
        tops[parts[0]] = Path(str(dist.locate_file(parts[0])))
    return tops


def stub_folders(work: Path) -> tuple[Path, Path, list[str]]:
    """(typeshed dir, module path, stub module names) assembled under work from the two
    stub packages."""
    stdlib = _top_level(STDLIB_STUBS)
    typeshed = work / "typeshed"
    typeshed.mkdir()
    (typeshed / "stdlib").symlink_to(stdlib["stdlib"], target_is_directory=True)
    (typeshed / "stubs").symlink_to(stdlib["stubs"], target_is_directory=True)
    path = work / "path"
    path.mkdir()
    for name, src in _top_level(ESP32_STUBS).items():
        if name.endswith(".pyi") or src.is_dir():
            (path / name).symlink_to(src, target_is_directory=src.is_dir())
    (path / "_mpy_shed").symlink_to(stdlib["_mpy_shed"], target_is_directory=True)
    modules = sorted(p.name.removesuffix(".pyi") for p in path.iterdir())
    return typeshed, path, modules


def config(modules: list[str]) -> str:
    # The stubs are the reference here, not the code under test: mypy's complaints about
    # their own insides (they are written for Pylance first) are not the firmware's.
    sections = ["[mypy]\ncheck_untyped_defs = True\n"]
    for name in modules:
        sections.append(f"[mypy-{name}]\nignore_errors = True\n")
        sections.append(f"[mypy-{name}.*]\nignore_errors = True\n")
    return "\n".join(sections)


def run(files: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    files = files or sorted(DEVICE.glob("*.py"))
    with tempfile.TemporaryDirectory(prefix="fw-typecheck-") as tmp:
        typeshed, path, modules = stub_folders(Path(tmp))
        ini = Path(tmp) / "mypy.ini"
        ini.write_text(config(modules))
        env = dict(os.environ, MYPYPATH=str(path))
        return subprocess.run(
            [
                sys.executable, "-m", "mypy",
                "--config-file", str(ini),
                "--custom-typeshed-dir", str(typeshed),
                "--no-site-packages",
                "--explicit-package-bases",
                "--no-error-summary",
                "--cache-dir", str(Path(tmp) / "cache"),
                *[str(f) for f in files],
            ],  # fmt: skip
            cwd=DEVICE,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )


def main() -> int:
    try:
        proc = run()
    except StubsMissing as e:
        print(f"typecheck: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode == 0:
        print("typecheck: firmware/device matches the ESP32 port's API")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
