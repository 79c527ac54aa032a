"""The source bundle `eb deploy` uploads, built the way the EB CLI builds it.

With `.ebignore` present the EB CLI zips the working tree minus the files that `.ebignore`
matches (gitignore syntax), committed or not. `python -m deploy.bundle [out.zip]` builds the
same archive, to look inside before deploying.
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pathspec

ROOT = Path(__file__).resolve().parent.parent


def ignore_spec(root: Path = ROOT) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines((root / ".ebignore").read_text().splitlines())


def bundle_files(root: Path = ROOT) -> Iterator[str]:
    """Relative paths (POSIX) of every file the bundle holds, in a stable order."""
    spec = ignore_spec(root)
    for directory, dirnames, filenames in os.walk(root):
        base = Path(directory).relative_to(root)
        kept = []
        for name in sorted(dirnames):
            relative = (base / name).as_posix()
            if not spec.match_file(relative + "/"):
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            relative = (base / name).as_posix()
            if not spec.match_file(relative):
                yield relative


def build(output: Path, root: Path = ROOT) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in bundle_files(root):
            if (root / relative).resolve() == output.resolve():
                continue
            archive.write(root / relative, relative)
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else ROOT / "build" / "bundle.zip"
    path = build(output)
    with zipfile.ZipFile(path) as archive:
        count = len(archive.namelist())
    print(f"wrote {path} ({count} files, {path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
