"""The web process's start: what it loads is out of the garbage collector's reach."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_application_loads_and_freezes_what_it_loaded():
    code = ("import gc, smartlight.wsgi as w; "
            "print(callable(w.application), gc.get_freeze_count(), len(gc.get_objects()))")
    env = {**os.environ, "SMARTLIGHT_AWS_MODE": "local"}
    env.pop("DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    is_app, frozen, tracked = out[0], int(out[1]), int(out[2])
    assert is_app == "True"
    # Django, the apps, the URLconf with the API: far more frozen than left to collect
    assert frozen > 50_000 and tracked < frozen / 10, (frozen, tracked)
