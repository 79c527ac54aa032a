"""lambda/build.py writes a reproducible zip that the Lambda runtime can import."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from .conftest import LAMBDA_DIR

ROOT = LAMBDA_DIR.parent


def test_it_builds_a_zip_with_the_handlers_the_contract_and_the_schedule_arithmetic(tmp_path):
    output = tmp_path / "lambda.zip"
    done = subprocess.run(
        [sys.executable, str(LAMBDA_DIR / "build.py"), str(output)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in done.stdout
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        modules = sorted(p.name for p in LAMBDA_DIR.glob("*.py") if p.name != "build.py")
        assert "schedule_handler.py" in modules
        assert set(modules) <= set(names)
        for name, source in [("schedule_handler.py", LAMBDA_DIR / "schedule_handler.py"),
                             ("smartlight/contract.py", ROOT / "smartlight" / "contract.py"),
                             ("schedules/timing.py", ROOT / "schedules" / "timing.py")]:
            assert archive.read(name) == source.read_bytes()
        archive.extractall(tmp_path / "task")
    assert "croniter/croniter.py" in names and "astral/sun.py" in names
    assert "tzdata/zoneinfo/Australia/Lord_Howe" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") or "/tests/" in n for n in names)
    # As the Lambda runtime does: the zip alone on the path (-I: not the repository), the handler
    # importing the bundled contract.
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
    # The extracted package, without this environment's site-packages (-S) or the system's
    # time-zone database: the bundled libraries and tzdata compute a sunrise.
    script = (
        "import sys, datetime as dt; sys.path.insert(0, sys.argv[1]);"
        "import schedule_handler as h;"
        "t = h.timing.Trigger(kind='sunrise', tz='Asia/Kolkata', latitude=22.57, longitude=88.36);"
        "after = dt.datetime(2027, 3, 31, 12, tzinfo=dt.UTC);"
        "print(h.timing.__file__.startswith(sys.argv[1]), h.timing.next_run(t, after))"
    )
    ran = subprocess.run(
        [sys.executable, "-S", "-c", script, str(tmp_path / "task")],
        capture_output=True, text=True, env={"PYTHONTZPATH": ""}, check=True, cwd=tmp_path,
    )
    assert ran.stdout.split() == ["True", "2027-03-31", "23:59:00+00:00"]


def test_the_same_source_builds_the_same_bytes(tmp_path):
    build = LAMBDA_DIR / "build.py"
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for path in (first, second):
        subprocess.run([sys.executable, str(build), str(path)], check=True, capture_output=True)
    assert first.read_bytes() == second.read_bytes()
