"""python -m firmware.flash: put MicroPython, the firmware and a light's bundle on an ESP32.

    python -m firmware.flash --port /dev/ttyUSB0 --bundle DIR [--image FILE] [--erase]

1. With --image: esptool writes the MicroPython image (erasing the flash first with --erase),
   the same as `esptool.py --chip esp32 --port P --baud 460800 write_flash -z 0x1000 FILE`.
2. The device files are compiled with mpy-cross for the ESP32 (xtensawin), main.py excepted.
3. Over the raw REPL (ampy's Pyboard) the bundle goes to /certs and /config.json, then the
   firmware, main.py last: a board whose upload was cut off never boots a half firmware.
   Each file is written to a temporary name and renamed, so no file is ever half written.
4. Every file is read back on the board: its size and SHA-256 must match.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEVICE = Path(__file__).resolve().parent / "device"
CHIP = "esp32"
FLASH_BAUD = 460800
IMAGE_OFFSET = "0x1000"  # the ESP32's bootloader offset, where MicroPython's image starts
REPL_BAUD = 115200
CHUNK = 768  # bytes per raw REPL write (base64: 1 KB of text)
BUNDLE_CERTS = (
    "certificate.pem.crt",
    "private.pem.key",
    "AmazonRootCA1.pem",
    "claim.pem.crt",
    "claim.private.pem.key",
)


class FlashError(Exception):
    """A failure the user can act on; its message says what to do."""


@dataclass
class Upload:
    board_path: str
    data: bytes


def say(line: str) -> None:
    print(line, flush=True)


# -- checks before touching the board --------------------------------------------------------


def check_port(port: str) -> None:
    if port.startswith("/dev/") and not os.path.exists(port):
        raise FlashError(
            f"no serial port {port}: is the board plugged in? Look for it with "
            "`ls /dev/ttyUSB* /dev/ttyACM*` (Linux) or `ls /dev/cu.usbserial-*` (macOS)."
        )


def bundle_files(bundle: Path) -> list[Upload]:
    """The bundle's files as they go onto the board; a bundle that cannot boot is refused."""
    if not bundle.is_dir():
        raise FlashError(f"bundle {bundle} is not a folder")
    config_path = bundle / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise FlashError(f"bundle {bundle} has no config.json") from None
    except ValueError as e:
        raise FlashError(f"{config_path} is not valid JSON: {e}") from None
    if not isinstance(config, dict) or not config.get("thing") or not config.get("endpoint"):
        raise FlashError(f"{config_path} needs at least thing and endpoint")
    certs = bundle / "certs"
    own = (certs / "certificate.pem.crt").exists() and (certs / "private.pem.key").exists()
    claim = (certs / "claim.pem.crt").exists() and (certs / "claim.private.pem.key").exists()
    if config.get("tls", True):
        if not (certs / "AmazonRootCA1.pem").exists():
            raise FlashError(f"bundle {bundle} has no certs/AmazonRootCA1.pem (the server CA)")
        if not own and not claim:
            raise FlashError(
                f"bundle {bundle} has neither certs/certificate.pem.crt + private.pem.key "
                "nor the claim certificate pair (claim.pem.crt + claim.private.pem.key)"
            )
        if claim and not own and not (config.get("serial") and config.get("template")):
            raise FlashError(f"{config_path} needs serial and template for fleet provisioning")
    files = [
        Upload("/certs/" + name, (certs / name).read_bytes())
        for name in BUNDLE_CERTS
        if (certs / name).exists()
    ]
    files.append(Upload("/config.json", config_path.read_bytes()))
    return files


def firmware_files(work: Path) -> list[Upload]:
    """The device files, compiled with mpy-cross (main.py stays source: the board runs
    main.py, not main.mpy). main.py comes last."""
    uploads = []
    for source in sorted(DEVICE.glob("*.py")):
        if source.name == "main.py":
            continue
        out = work / (source.stem + ".mpy")
        proc = subprocess.run(
            [sys.executable, "-m", "mpy_cross", "-march=xtensawin", "-o", str(out), str(source)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise FlashError(f"mpy-cross failed on {source.name}: {proc.stderr.strip()}")
        uploads.append(Upload("/" + out.name, out.read_bytes()))
    uploads.append(Upload("/main.py", (DEVICE / "main.py").read_bytes()))
    return uploads


# -- esptool -----------------------------------------------------------------------------------


def esptool_runs(port: str, image: Path, erase: bool) -> list[list[str]]:
    base = ["--chip", CHIP, "--port", port]
    runs = []
    if erase:
        runs.append([*base, "erase-flash"])
    runs.append([*base, "--baud", str(FLASH_BAUD), "write-flash", "-z", IMAGE_OFFSET, str(image)])
    return runs


def write_image(port: str, image: Path, erase: bool) -> None:
    import esptool
    from esptool.util import FatalError

    if not image.is_file():
        raise FlashError(f"no image file {image}")
    for argv in esptool_runs(port, image, erase):
        say("esptool " + " ".join(argv))
        try:
            esptool.main(argv)
        except FatalError as e:
            raise FlashError(esptool_message(str(e), image)) from None
        except SystemExit as e:  # click's usage errors
            raise FlashError(f"esptool refused the arguments ({e.code})") from None


def esptool_message(error: str, image: Path) -> str:
    if "is not an" in error and "image" in error:
        return f"{image.name} is not an image for this board's chip: {error}"
    if "Wrong --chip" in error or "This chip is" in error:
        return f"the board is not an ESP32: {error}"
    if "Failed to connect" in error or "No serial data received" in error:
        return (
            f"the board does not answer on the serial port: {error} Hold BOOT while it "
            "connects, or check the USB cable (some carry power only)."
        )
    if "Could not open" in error:
        return f"cannot open the serial port: {error}"
    return f"esptool failed: {error}"


# -- the raw REPL (ampy) --------------------------------------------------------------------


WRITE_OPEN = "import os, binascii\nf = open({tmp!r}, 'wb')"
WRITE_CHUNK = "f.write(binascii.a2b_base64({chunk!r}))"
WRITE_CLOSE = (
    "f.close()\n"
    "try:\n    os.remove({path!r})\nexcept OSError:\n    pass\n"
    "os.rename({tmp!r}, {path!r})"
)
# Reads every uploaded file back on the board: size and SHA-256 (hashlib is in the ESP32 build).
VERIFY = """
import os, hashlib, binascii
def _check(p):
    try:
        h = hashlib.sha256()
        n = 0
        with open(p, 'rb') as f:
            while True:
                b = f.read(512)
                if not b:
                    break
                n += len(b)
                h.update(b)
        print(p, n, binascii.hexlify(h.digest()).decode())
    except OSError:
        print(p, -1, '-')
for _p in {paths!r}:
    _check(_p)
"""


def connect_board(port: str, answer_s: float = 3.0) -> tuple[object, object]:
    from ampy.files import Files
    from ampy.pyboard import Pyboard, PyboardError

    try:
        board = Pyboard(port, baudrate=REPL_BAUD)
        # Ctrl-C: a MicroPython REPL answers with a prompt at once; ampy itself would wait
        # 50 s before giving up on a silent port.
        board.serial.write(b"\r\x03\x03")
        deadline = time.monotonic() + answer_s
        while board.serial.inWaiting() == 0:
            if time.monotonic() > deadline:
                raise PyboardError("no answer to Ctrl-C")
            time.sleep(0.05)
        board.enter_raw_repl()
    except PyboardError as e:
        raise FlashError(
            f"MicroPython does not answer on {port} ({e}): is MicroPython on the board? "
            "Give --image to write it. A board running a light resets from its watchdog "
            "while you wait: flash with --image and --erase, or set wdt_ms to 0."
        ) from None
    return board, Files(board)


def upload(board, files, uploads: list[Upload], progress: Callable[[str], None]) -> None:
    from ampy.files import DirectoryExistsError

    try:
        files.mkdir("/certs", exists_okay=True)
    except DirectoryExistsError:
        pass
    board.enter_raw_repl()
    try:
        total = len(uploads)
        for i, item in enumerate(uploads, 1):
            tmp = item.board_path + ".tmp"
            board.exec_(WRITE_OPEN.format(tmp=tmp))
            for off in range(0, len(item.data), CHUNK):
                chunk = base64.b64encode(item.data[off : off + CHUNK]).decode()
                board.exec_(WRITE_CHUNK.format(chunk=chunk))
            board.exec_(WRITE_CLOSE.format(tmp=tmp, path=item.board_path))
            progress(f"[{i}/{total}] {item.board_path} ({len(item.data)} bytes)")
    finally:
        board.exit_raw_repl()


def verify(board, uploads: list[Upload]) -> list[str]:
    """Problems found reading the files back (empty when every file matches)."""
    board.enter_raw_repl()
    try:
        out = board.exec_(VERIFY.format(paths=[u.board_path for u in uploads]))
    finally:
        board.exit_raw_repl()
    seen = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3:
            seen[parts[0]] = (int(parts[1]), parts[2])
    problems = []
    for item in uploads:
        want = (len(item.data), hashlib.sha256(item.data).hexdigest())
        got = seen.get(item.board_path)
        if got is None or got[0] < 0:
            problems.append(f"{item.board_path}: missing on the board")
        elif got[0] != want[0]:
            problems.append(f"{item.board_path}: {got[0]} bytes on the board, {want[0]} sent")
        elif got[1] != want[1]:
            problems.append(f"{item.board_path}: SHA-256 differs from what was sent")
    return problems


def stale_sources(uploads: list[Upload]) -> list[str]:
    # MicroPython imports X.py before X.mpy: an old source left next to a new .mpy would win.
    return ["/" + Path(u.board_path).stem + ".py" for u in uploads if u.board_path.endswith(".mpy")]


def remove_files(board, paths: list[str]) -> None:
    code = (
        "import os\nfor p in {paths!r}:\n"
        "    try:\n        os.remove(p)\n    except OSError:\n        pass"
    )
    board.enter_raw_repl()
    try:
        board.exec_(code.format(paths=paths))
    finally:
        board.exit_raw_repl()


def flash(
    port: str, bundle: Path, image: Path | None = None, erase: bool = False,
    progress: Callable[[str], None] = say, settle_s: float = 2.0,
) -> list[Upload]:  # fmt: skip
    check_port(port)
    uploads = bundle_files(bundle)
    if erase and image is None:
        raise FlashError("--erase needs --image: an erased board has no MicroPython to talk to")
    with tempfile.TemporaryDirectory(prefix="fw-flash-") as tmp:
        uploads += firmware_files(Path(tmp))
    if image is not None:
        write_image(port, image, erase)
        time.sleep(settle_s)  # MicroPython's first boot formats the filesystem
    progress(f"uploading {len(uploads)} files to {port}")
    board, files = connect_board(port)
    try:
        remove_files(board, stale_sources(uploads))
        upload(board, files, uploads, progress)
        problems = verify(board, uploads)
    finally:
        try:
            board.close()
        except Exception:  # noqa: BLE001 (closing a port that already went away)
            pass
    if problems:
        raise FlashError("verification failed:\n  " + "\n  ".join(problems))
    progress(f"verified {len(uploads)} files (size and SHA-256); press reset to start the light")
    return uploads


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware.flash", description=__doc__.split("\n")[0])
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--bundle", required=True, type=Path, help="the light's provisioned folder")
    p.add_argument("--image", type=Path, help="MicroPython image for the ESP32 (v1.22+) to write")
    p.add_argument("--erase", action="store_true", help="erase the whole flash first")
    args = p.parse_args(argv)
    try:
        flash(args.port, args.bundle, args.image, args.erase)
    except FlashError as e:
        print(f"flash: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
