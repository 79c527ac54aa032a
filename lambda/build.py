"""Build build/schedule_lambda.zip: the schedule handler for the AWS Lambda Python runtime.

The zip holds the handler, the platform's own schedules/timing.py as `schedule_timing` (so the
Lambda computes each next run with the code the portal uses) and the pure-Python libraries that
module needs, taken from this environment at the versions requirements.txt pins: croniter,
python-dateutil, six, astral and tzdata (the runtime may have no time-zone database of its own).
boto3 comes with the runtime. Entries get a fixed timestamp and mode so the same source always
gives the same bytes (and the same CodeSha256, so a redeploy without changes is a no-op).

Usage: python lambda/build.py [output.zip]
Handler setting: schedule_handler.handler
"""

from __future__ import annotations

import sys
import zipfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# zip name -> source file
FILES = {
    "schedule_handler.py": HERE / "schedule_handler.py",
    "schedule_timing.py": ROOT / "schedules" / "timing.py",
}
DISTRIBUTIONS = ["croniter", "python-dateutil", "six", "astral", "tzdata"]
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def library_files() -> dict[str, Path]:
    """Every importable file of the bundled distributions (no metadata, no bytecode)."""
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
    entries = {**library_files(), **FILES}
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes())
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else ROOT / "build" / "schedule_lambda.zip"
    path = build(output)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
