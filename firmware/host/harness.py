"""Run firmware check scripts under real MicroPython (WebAssembly in Node) or CPython.

A check script imports the device modules and the MicroPython fakes by their board names
(`import render`, `import machine`), records results with `hostcheck.check` and ends with
`hostcheck.done()`, which prints one JSON line. The same script runs on both runtimes, so
the logic is proven under the real MicroPython VM and under the CPython the simulator uses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parent.parent
ROOT = FIRMWARE.parent
DEVICE = FIRMWARE / "device"
FAKES = FIRMWARE / "host" / "fakes"
RUNNER = FIRMWARE / "host" / "run_mp.mjs"
MICROPYTHON_MJS = (
    ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
)
MARK = "@@RESULT "
STEP = "\n# --- step ---\n"  # splits a MicroPython script into separately run steps


class HarnessError(RuntimeError):
    pass


def node() -> str | None:
    return shutil.which("node")


def available() -> bool:
    return node() is not None and MICROPYTHON_MJS.exists()


def _result(lines: list[str]) -> dict:
    for line in reversed(lines):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise HarnessError("the script printed no result line:\n" + "\n".join(lines[-40:]))


def run_micropython_raw(
    script: str,
    *,
    heapsize: int = 8 * 1024 * 1024,
    timeout: float = 120,
    mpy: bool = False,
    asynchronous: bool = False,
) -> dict:
    """Run a script under MicroPython; the runner's JSON ({ok, stdout, error}).

    Lines equal to "# --- step ---" split the script into steps run one after another in
    the same VM. With mpy=True the device files are loaded as mpy-cross output, as on a
    board that was given .mpy files. With asynchronous=True the script may `await` at top
    level (it then runs on the JavaScript event loop, where MicroPython's asyncio lives).
    """
    if not available():
        raise HarnessError("node or the MicroPython WebAssembly package is missing")
    device = str(DEVICE)
    tmp = None
    if mpy:
        tmp = tempfile.TemporaryDirectory(prefix="fw-mpy-")
        device = tmp.name
        for source in DEVICE.glob("*.py"):
            proc = compile_with_mpy_cross(source, Path(tmp.name), arch=None)
            if proc.returncode != 0:
                raise HarnessError(proc.stderr)
    job = {
        "mounts": [["/device", device], ["/fakes", str(FAKES)]],
        "path": ["/device", "/fakes"],
        "script": script.split(STEP),
        "heapsize": heapsize,
        "async": asynchronous,
    }
    try:
        proc = subprocess.run(
            [node(), str(RUNNER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    finally:
        if tmp is not None:
            tmp.cleanup()
    if proc.returncode != 0:
        raise HarnessError(f"node failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_micropython(script: str, **kwargs) -> dict:
    """Run a check script under MicroPython and return its results by check name."""
    out = run_micropython_raw(script, **kwargs)
    if not out["ok"]:
        raise HarnessError(f"{out['error']}\n" + "\n".join(out["stdout"][-40:]))
    return _result(out["stdout"])


def run_cpython(script: str, *, timeout: float = 120) -> dict:
    """Run the same check script under CPython, device and fakes first on sys.path."""
    with tempfile.TemporaryDirectory(prefix="fw-cpython-") as tmp:
        flash = Path(tmp) / "flash"
        flash.mkdir()
        path = Path(tmp) / "check.py"
        path.write_text(script)
        proc = subprocess.run(
            [sys.executable, "-I", "-B", "-c", _cpython_boot(path, flash)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp,
        )
    lines = proc.stdout.splitlines()
    if proc.returncode != 0:
        raise HarnessError(f"python failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return _result(lines)


def _cpython_boot(script: Path, flash: Path) -> str:
    # -I ignores PYTHONPATH, so put the board's import path in place by hand; checks find
    # their flash folder in hostcheck.FLASH ("/flash" under MicroPython, a temp dir here).
    return (
        "import sys\n"
        # asyncio first, with the real socket and ssl; then the board's fakes take their names.
        "import asyncio\n"
        "for name in ('socket', 'ssl'):\n"
        "    sys.modules.pop(name, None)\n"
        f"sys.path[:0] = [{str(DEVICE)!r}, {str(FAKES)!r}]\n"
        "import hostcheck\n"
        f"hostcheck.FLASH = {str(flash)!r}\n"
        "import ast\n"
        f"src = open({str(script)!r}).read()\n"
        # Top-level await allowed, as under MicroPython's runPythonAsync.
        f"code = compile(src, {str(script)!r}, 'exec', flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)\n"
        "ran = eval(code, {'__name__': '__main__'})\n"
        "if ran is not None:\n"
        "    async def _main():\n"
        "        await ran\n"
        "    asyncio.run(_main())\n"
    )


def run(runtime: str, script: str, **kwargs) -> dict:
    if runtime == "micropython":
        return run_micropython(script, **kwargs)
    if runtime == "cpython":
        return run_cpython(script)
    raise ValueError(runtime)


def compile_with_mpy_cross(
    source: Path, out_dir: Path, arch: str | None = "xtensawin"
) -> subprocess.CompletedProcess:
    """Compile one device file with mpy-cross (for the ESP32's xtensawin by default)."""
    out = out_dir / (source.stem + ".mpy")
    march = [f"-march={arch}"] if arch else []
    return subprocess.run(
        [sys.executable, "-m", "mpy_cross", *march, "-o", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
