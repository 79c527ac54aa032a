"""Dashboard cost with 500 lights: query count (constant, at most 10) and render time.

    .venv/bin/python bench/dashboard.py [--lights 500] [--runs 60]

Builds a throwaway SQLite database in memory, a home with N lights in 10 rooms and a few
scenes, then renders the dashboard and its live feed (the API's list of the home's lights, which
the page asks every second) through Django's full middleware stack
(test client, signed in) and compares the p95 with a static page rendered the same way
(base.html with no data), so the ratio says what the lights themselves cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartlight.settings")
os.environ["SQLITE_PATH"] = ":memory:"
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("SMARTLIGHT_AWS_MODE", "local")
os.environ["SMARTLIGHT_SIM_DIR"] = ""  # strip pictures from the state, not a local simulator

import django  # noqa: E402

django.setup()

FEED = "/api/v1/devices"

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.generic import TemplateView  # noqa: E402

import smartlight.urls  # noqa: E402

urlpatterns = [
    path("bench-static/", TemplateView.as_view(template_name="base.html")),
    *smartlight.urls.urlpatterns,
]

REPORTED = {
    "on": True, "brightness": 180, "color": "#ffaa33", "effect": "rainbow", "speed": 90,
    "connected": True, "fw": "1.0.0", "led_count": 60, "max_ma": 2000, "power_ma": 900,
    "effects": ["solid", "rainbow", "breathe", "chase", "twinkle"],
}


def build(lights: int):
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from accounts.actions import do_create_home
    from accounts.models import User
    from devices.models import Device, Room, Scene

    user = User.objects.create_user("bench@example.com", "x")
    home = do_create_home(user, "Bench Home")
    rooms = Room.objects.bulk_create([Room(home=home, name=f"Room {i}") for i in range(10)])
    Device.objects.bulk_create([
        Device(home=home, room=rooms[i % 10], name=f"Light {i:03d}",
               thing_name=f"sl-{i:012x}", reported=dict(REPORTED, brightness=i % 256),
               desired={"brightness": (i * 7) % 256}, connected=bool(i % 3))
        for i in range(lights)
    ])
    for i in range(5):
        Scene.objects.create(home=home, name=f"Scene {i}", states={})
    return user


def timed(client: Client, url: str, runs: int, **headers) -> tuple[list[float], int, int]:
    client.get(url, **headers)  # warm caches (templates, session)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url, **headers)
    assert response.status_code in (200, 304), (url, response.status_code)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        client.get(url, **headers)
        times.append((time.perf_counter() - start) * 1000)
    return times, len(queries), len(response.content)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lights", type=int, default=500)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    with override_settings(ROOT_URLCONF=__name__, DEBUG=False,
                           ALLOWED_HOSTS=["testserver"]):
        user = build(args.lights)
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        static, static_q, _ = timed(client, "/bench-static/", args.runs)
        # Query counts for a tenth of the lights, to show they do not grow with the lights.
        from devices.models import Device

        keep = list(Device.objects.order_by("pk").values_list("pk", flat=True)[
            : args.lights // 10])
        results = {}
        for url in ("/", FEED):
            results[url] = timed(client, url, args.runs)
        # An idle dashboard's poll: the browser revalidates with If-None-Match.
        etag = client.get(FEED)["ETag"]
        idle = timed(client, FEED, args.runs, HTTP_IF_NONE_MATCH=etag)
        Device.objects.exclude(pk__in=keep).delete()
        small_runs = {url: timed(client, url, 3) for url in ("/", FEED)}
        small = {url: run[1] for url, run in small_runs.items()}
        small_html = small_runs["/"][2]

    print(f"lights: {args.lights}, runs: {args.runs}")
    print(f"static page:    p50 {statistics.median(static):7.2f} ms  p95 {p95(static):7.2f} ms"
          f"  min {min(static):6.2f} ms  queries {static_q}")
    for url, (times, queries, size) in results.items():
        name = "dashboard" if url == "/" else "live feed"
        print(f"{name + ':':15} p50 {statistics.median(times):7.2f} ms  p95 {p95(times):7.2f} ms"
              f"  min {min(times):6.2f} ms  queries {queries}"
              f" (with {args.lights // 10} lights: {small[url]})"
              f"  {size / 1024:.0f} KiB  p95 ratio vs static {p95(times) / p95(static):.1f}x")
    times, queries, _ = idle
    print(f"{'idle poll (304):':15} p50 {statistics.median(times):7.2f} ms"
          f"  p95 {p95(times):7.2f} ms  min {min(times):6.2f} ms  queries {queries}")
    ok = all(q <= 10 and q == small[u] for u, (_, q, _) in results.items())
    print("query count constant and <= 10:", "yes" if ok else "NO")
    print(f"dashboard HTML with {args.lights // 10} lights: {small_html / 1000:.1f} KB"
          f" (target for 50 lights <= 60 KB: {'yes' if small_html <= 60_000 else 'NO'})")


if __name__ == "__main__":
    main()
