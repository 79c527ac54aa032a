"""The device files against the ESP32 port's API (micropython-esp32-stubs, mypy)."""

from __future__ import annotations

import shutil
from pathlib import Path

from firmware import typecheck
from firmware.host import harness


def test_the_device_files_type_check_against_the_esp32_stubs():
    proc = typecheck.run()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_call_the_esp32_port_does_not_have_fails_the_check(tmp_path: Path):
    # The check is worth something only if it refuses what the board would refuse: CPython's
    # time.monotonic_ns, a WLAN method the port lacks, a Pin with a wrong argument type.
    for source in harness.DEVICE.glob("*.py"):
        shutil.copy(source, tmp_path / source.name)
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import machine\nimport network\nimport time\n\n"
        "def go():\n"
        "    t = time.monotonic_ns()\n"
        "    network.WLAN(network.STA_IF).join('ssid')\n"
        "    machine.Pin(19, machine.Pin.OUT, pull='up', value=[1])\n"
        "    return t\n"
    )
    proc = typecheck.run([bad])
    out = proc.stdout
    assert proc.returncode != 0
    assert 'bad.py:6: error: Module has no attribute "monotonic_ns"' in out
    assert 'bad.py:7: error: "WLAN" has no attribute "join"' in out
    assert "bad.py:8: error" in out
