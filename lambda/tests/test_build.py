"""lambda/build.py writes a reproducible zip that the Lambda runtime can import."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from .conftest import LAMBDA_DIR


def test_it_builds_a_zip_with_the_handler(tmp_path):
    output = tmp_path / "lambda.zip"
    done = subprocess.run(
        [sys.executable, str(LAMBDA_DIR / "build.py"), str(output)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in done.stdout
    with zipfile.ZipFile(output) as archive:
        modules = sorted(p.name for p in LAMBDA_DIR.glob("*.py") if p.name != "build.py")
        assert "schedule_handler.py" in modules
        assert archive.namelist() == [*modules, "smartlight/__init__.py", "smartlight/contract.py"]
        assert (
            archive.read("schedule_handler.py") == (LAMBDA_DIR / "schedule_handler.py").read_bytes()
        )
        contract = LAMBDA_DIR.parent / "smartlight" / "contract.py"
        assert archive.read("smartlight/contract.py") == contract.read_bytes()
    # As the Lambda runtime does: the zip alone on the path (-I: not the repository, no site
    # packages beyond the standard library's), the handler importing the bundled contract.
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); import schedule_handler as h; "
        "import datetime as dt; "
        "print(h.validate({'schedule': '6f1c2a8e-4a8b-4c55-9a1e-0d6c1a2b3c4d', "
        "'things': ['sl-00000000c0de'], 'desired': {'color': '#FF8800'}}, "
        "dt.datetime.now(dt.UTC))[2], h.contract.__file__)"
    )
    ran = subprocess.run([sys.executable, "-I", "-c", check, str(output)], capture_output=True,
                         text=True, cwd=tmp_path, check=True)
    assert ran.stdout.split() == ["{'color':", "'#ff8800'}", f"{output}/smartlight/contract.py"]


def test_the_same_source_builds_the_same_bytes(tmp_path):
    build = LAMBDA_DIR / "build.py"
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for path in (first, second):
        subprocess.run([sys.executable, str(build), str(path)], check=True, capture_output=True)
    assert first.read_bytes() == second.read_bytes()
