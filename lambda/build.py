"""Build build/lambda.zip: every Lambda of the system for the AWS Lambda Python runtime.

The handlers need boto3, which the runtime provides, the light-state contract
(smartlight/contract.py, standard library only) and the schedule arithmetic
(schedules/timing.py, no Django), so the schedule Lambda computes every run with the code the
portal uses. The zip holds the modules of this directory, those two as bare `smartlight` and
`schedules` packages (the platform's own package modules need Django), and the pure-Python
libraries timing.py needs, taken from this environment at the versions requirements.txt pins:
croniter, python-dateutil, six, astral and tzdata (the runtime may have no time-zone database of
its own). The stack points each function at its own module (handler settings
schedule_handler.handler, provisioning_hook.handler, jitr_handler.handler). Entries get a fixed
timestamp and mode so the same source always gives the same bytes (and the same CodeSha256, so
a redeploy without changes is a no-op).

Usage: python lambda/build.py [output.zip]
"""

from __future__ import annotations

import sys
import zipfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# (path in the zip, path in the repository or None for an empty file)
FILES = [
    *(
        (path.name, f"lambda/{path.name}")
        for path in sorted(HERE.glob("*.py"))
        if path.name != "build.py"
    ),
    ("smartlight/__init__.py", None),
    ("smartlight/contract.py", "smartlight/contract.py"),
    ("schedules/__init__.py", None),
    ("schedules/timing.py", "schedules/timing.py"),
]
DISTRIBUTIONS = ["croniter", "python-dateutil", "six", "astral", "tzdata"]
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def library_files() -> dict[str, Path]:
    """Every importable file of the bundled distributions (no metadata, bytecode or tests)."""
    found: dict[str, Path] = {}
    for name in DISTRIBUTIONS:
        dist = metadata.distribution(name)
        for entry in dist.files or []:
            parts = entry.parts
            if (
                parts[0].endswith((".dist-info", ".egg-info"))
                or "__pycache__" in parts
                or "tests" in parts
                or entry.suffix == ".pyc"
                or parts[0].startswith("..")
            ):
                continue
            found[entry.as_posix()] = Path(str(dist.locate_file(entry)))
    return found


def build(output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    entries: dict[str, bytes] = {name: path.read_bytes() for name, path in library_files().items()}
    for name, source in FILES:
        entries[name] = (ROOT / source).read_bytes() if source else b""
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else HERE.parent / "build" / "lambda.zip"
    path = build(output)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
