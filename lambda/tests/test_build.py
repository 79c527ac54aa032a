"""lambda/build.py writes a reproducible zip that the Lambda runtime can import."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
import zipimport

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
        assert archive.namelist() == modules
        assert (
            archive.read("schedule_handler.py") == (LAMBDA_DIR / "schedule_handler.py").read_bytes()
        )
    importer = zipimport.zipimporter(str(output))
    spec = importer.find_spec("schedule_handler")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.handler)


def test_the_same_source_builds_the_same_bytes(tmp_path):
    build = LAMBDA_DIR / "build.py"
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for path in (first, second):
        subprocess.run([sys.executable, str(build), str(path)], check=True, capture_output=True)
    assert first.read_bytes() == second.read_bytes()
