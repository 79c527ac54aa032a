"""Build build/lambda.zip: every Lambda of the system for the AWS Lambda Python runtime.

The handlers need only boto3, which the runtime provides, and the light-state contract
(smartlight/contract.py, standard library only), so the zip holds the modules of this directory
and the contract; the stack points each function at its own module (handler settings
schedule_handler.handler, provisioning_hook.handler, jitr_handler.handler). Entries get a fixed
timestamp and mode so the same source always gives the same bytes (and the same CodeSha256, so
a redeploy without changes is a no-op).

Usage: python lambda/build.py [output.zip]
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# (path in the zip, path in the repository): every handler, and the light-state contract they
# import as a bare `smartlight` package (the platform's own __init__ needs Django).
FILES = [
    *(
        (path.name, f"lambda/{path.name}")
        for path in sorted(HERE.glob("*.py"))
        if path.name != "build.py"
    ),
    ("smartlight/__init__.py", None),
    ("smartlight/contract.py", "smartlight/contract.py"),
]
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build(output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, source in FILES:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (ROOT / source).read_bytes() if source else b"")
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else HERE.parent / "build" / "lambda.zip"
    path = build(output)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
