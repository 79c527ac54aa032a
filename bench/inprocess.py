"""The platform in this process, pointed at a running localcloud: for benchmarks that time a
change from the platform's own code to a simulated light's frame."""

from __future__ import annotations

import os
from typing import Any


def start_platform(cloud: Any) -> None:
    """Configure and set up Django against `cloud` (a localcloud.testing.LocalCloud): its
    data-plane API and moto, an in-memory database, Celery tasks run in place, quiet logs."""
    os.environ.update({
        **cloud.env(),
        "DJANGO_SETTINGS_MODULE": "smartlight.settings",
        "SMARTLIGHT_AWS_MODE": "local",
        "SQLITE_PATH": ":memory:",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
    })
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
