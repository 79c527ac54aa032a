"""lambda/build.py writes a reproducible zip that the Lambda runtime can import."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from .conftest import LAMBDA_DIR

ROOT = LAMBDA_DIR.parent


def test_it_builds_a_zip_that_runs_on_its_own(tmp_path):
    output = tmp_path / "schedule_lambda.zip"
    done = subprocess.run(
        [sys.executable, str(LAMBDA_DIR / "build.py"), str(output)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote" in done.stdout
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        assert (
            archive.read("schedule_handler.py") == (LAMBDA_DIR / "schedule_handler.py").read_bytes()
        )
        assert archive.read("schedule_timing.py") == (ROOT / "schedules" / "timing.py").read_bytes()
        archive.extractall(tmp_path / "task")
    assert "croniter/croniter.py" in names and "astral/sun.py" in names
    assert "tzdata/zoneinfo/Australia/Lord_Howe" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    # Like the Lambda runtime: only the package and the standard library (-S: no site-packages,
    # so nothing from this environment), and no system time-zone database.
    script = (
        "import sys, datetime as dt; sys.path.insert(0, sys.argv[1]);"
        "import schedule_handler as h;"
        "t = h.timing.Trigger(kind='sunrise', tz='Asia/Kolkata', latitude=22.57, longitude=88.36);"
        "after = dt.datetime(2027, 3, 31, 12, tzinfo=dt.UTC);"
        "print(h.timing.__name__, h.timing.next_run(t, after))"
    )
    ran = subprocess.run(
        [sys.executable, "-S", "-c", script, str(tmp_path / "task")],
        capture_output=True, text=True, env={"PYTHONTZPATH": ""}, check=True,
    )
    assert ran.stdout.split() == ["schedule_timing", "2027-03-31", "23:59:00+00:00"]


def test_the_same_source_builds_the_same_bytes(tmp_path):
    build = LAMBDA_DIR / "build.py"
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for path in (first, second):
        subprocess.run([sys.executable, str(build), str(path)], check=True, capture_output=True)
    assert first.read_bytes() == second.read_bytes()
