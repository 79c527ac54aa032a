"""Every file that goes onto the board compiles with mpy-cross and imports only what the
official ESP32 MicroPython build provides."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from firmware.host import harness

DEVICE_FILES = sorted(harness.DEVICE.glob("*.py"))
DEVICE_MODULES = {p.stem for p in DEVICE_FILES}
# Scripts run on a board over USB (on-device checks): MicroPython too.
BOARD_SCRIPTS = DEVICE_FILES + sorted((harness.FIRMWARE / "onboard").glob("*.py"))
# Built into the official ESP32 port (docs.micropython.org/en/latest/esp32/quickref.html),
# asyncio and ssl frozen in since v1.22. The firmware carries its own MQTT client.
ESP32_MODULES = {
    "gc", "json", "math", "os", "random", "sys", "time", "machine", "neopixel", "network",
    "ntptime", "socket", "ssl", "esp32", "asyncio", "micropython", "struct",
}  # fmt: skip


def test_the_device_folder_has_the_board_files():
    names = {p.name for p in DEVICE_FILES}
    assert {"main.py", "wifimgr.py", "board.py", "app.py", "render.py"} <= names
    assert (harness.DEVICE / "config.example.json").exists()


@pytest.mark.parametrize("source", BOARD_SCRIPTS, ids=lambda p: p.name)
def test_it_compiles_with_mpy_cross(source: Path, tmp_path: Path):
    proc = harness.compile_with_mpy_cross(source, tmp_path)
    assert proc.returncode == 0, proc.stderr
    mpy = tmp_path / (source.stem + ".mpy")
    assert mpy.read_bytes()[:1] == b"M"  # .mpy header magic


@pytest.mark.parametrize("source", BOARD_SCRIPTS, ids=lambda p: p.name)
def test_it_imports_only_what_the_esp32_build_has(source: Path):
    tree = ast.parse(source.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports: the board keeps modules flat"
            imported.add(node.module)
    unknown = imported - ESP32_MODULES - DEVICE_MODULES
    assert not unknown, f"{source.name} imports {unknown}"


def test_mpy_cross_rejects_cpython_only_syntax(tmp_path: Path):
    # The compile test above means something only if mpy-cross refuses what MicroPython
    # cannot run; a match statement is CPython 3.10+ only.
    bad = tmp_path / "bad.py"
    bad.write_text("match 1:\n    case 1:\n        pass\n")
    assert harness.compile_with_mpy_cross(bad, tmp_path).returncode != 0


def test_the_flashing_guide_is_the_flash_command():
    readme = (harness.FIRMWARE / "README.md").read_text()
    guide = readme.split("## Flash a device", 1)[1].split("\n## ", 1)[0]
    assert "python -m firmware.flash --port /dev/ttyUSB0 --bundle" in guide
    assert "ampy put" not in guide  # the tool uploads every device file itself
