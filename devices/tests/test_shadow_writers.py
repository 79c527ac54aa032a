"""A scene or a room writes its lights' shadows SHADOW_WRITERS at a time, through the real boto3
client, over pooled connections, and reports each light that failed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from devices import actions, shadow
from devices.models import Device, Scene
from smartlight import aws


class SlowShadows(ThreadingHTTPServer):
    """UpdateThingShadow that answers only once `hold` requests are in flight together (a
    barrier), counting the most in flight and the client connections they came on. Things
    named in `missing` answer 404, as IoT Core does for a thing without a shadow."""

    daemon_threads = True

    def __init__(self, hold: int, missing: set[str]) -> None:
        super().__init__(("127.0.0.1", 0), ShadowHandler)
        self.together = threading.Barrier(hold, timeout=10)
        self.missing = missing
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.connections: set[tuple[str, int]] = set()
        self.written: dict[str, dict] = {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class ShadowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as IoT Core's endpoint
    server: SlowShadows

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        server = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        thing = unquote(self.path.split("/")[2].split("?")[0])
        with server.lock:
            server.connections.add(self.client_address)
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        try:
            server.together.wait()
        finally:
            with server.lock:
                server.in_flight -= 1
        if thing in server.missing:
            status, answer = 404, {"code": 404, "message": f"No shadow exists with name: '{thing}'"}
        else:
            with server.lock:
                server.written[thing] = json.loads(body)["state"]["desired"]
            status, answer = 200, {"state": json.loads(body)["state"], "version": 2}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if status == 404:
            self.send_header("x-amzn-ErrorType", "ResourceNotFoundException")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def shadows(settings):
    """Start a SlowShadows (call with hold=, missing=) and point the iot-data client at it."""
    started = []

    def start(hold: int, missing: set[str] = frozenset()) -> SlowShadows:
        server = SlowShadows(hold, set(missing))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        settings.AWS_MODE = "local"
        settings.AWS_ENDPOINT_OVERRIDES = {}
        settings.IOT_DATA_ENDPOINT_URL = server.url
        aws.reset_clients()
        return server

    yield start
    aws.reset_clients()
    for server in started:
        server.shutdown()
        server.server_close()


def lights(home, count: int, prefix: str = "e") -> list[Device]:
    return [Device.objects.create(home=home, name=f"Strip {i:02}",
                                  thing_name=f"sl-0000000{prefix}{i:04x}",
                                  reported={"effects": ["solid"]})
            for i in range(count)]


def test_the_iot_data_client_keeps_a_connection_for_every_writer(settings):
    settings.AWS_MODE = "local"
    aws.reset_clients()
    try:
        pool = aws.client("iot-data").meta.config.max_pool_connections
    finally:
        aws.reset_clients()
    assert pool >= actions.SHADOW_WRITERS


def test_scenes_keep_every_writer_busy_over_kept_connections(home, shadows):
    writers = actions.SHADOW_WRITERS
    # A write is answered only when `writers` of them are in flight together.
    server = shadows(hold=writers)
    strips = lights(home, 2 * writers)
    scenes = [Scene.objects.create(home=home, name=color, states={
        strip.thing_name: {"on": True, "color": color} for strip in strips})
        for color in ("#0000ff", "#ff0000")]

    for scene in scenes:
        result = actions.do_apply_scene(scene)
        assert result.ok and len(result.changed) == len(strips)

    assert server.most_in_flight == writers
    # One connection per writer, kept from scene to scene: a pool smaller than the writers
    # drops the extra ones when a batch ends, and the next batch connects again.
    assert len(server.connections) == writers
    # A colour clears the white temperature (the contract's shadow document).
    sent = {"on": True, "color": "#ff0000", "color_temp_k": None}
    assert server.written == {s.thing_name: sent for s in strips}
    assert all(d.desired == {"on": True, "color": "#ff0000"}
               for d in Device.objects.filter(home=home))


def test_a_light_without_a_shadow_is_reported_and_the_others_are_written(home, shadows):
    writers = actions.SHADOW_WRITERS
    strips = lights(home, writers)
    gone = strips[3]
    server = shadows(hold=writers, missing={gone.thing_name})

    result = actions.do_set_many(Device.objects.filter(home=home), {"on": False})

    assert result.failed == {gone.name: shadow.ShadowNotFound.reason}
    assert sorted(d.name for d in result.changed) == sorted(
        s.name for s in strips if s != gone)
    assert set(server.written) == {s.thing_name for s in strips if s != gone}
    assert Device.objects.get(pk=gone.pk).desired == {}
    assert all(d.desired == {"on": False} for d in Device.objects.exclude(pk=gone.pk))


def test_an_unexpected_error_for_one_light_keeps_the_others(home, monkeypatch):
    strips = lights(home, 5)

    def update_desired(thing, desired, reported=None, **kwargs):
        if thing == strips[1].thing_name:
            raise RuntimeError("a bug, not an AWS answer")
        return {}

    monkeypatch.setattr(shadow, "update_desired", update_desired)
    result = actions.do_set_many(Device.objects.filter(home=home), {"on": True})

    assert result.failed == {strips[1].name: shadow.ShadowError.reason}
    assert len(result.changed) == 4
    assert Device.objects.get(pk=strips[1].pk).desired == {}
    assert Device.objects.filter(desired={"on": True}).count() == 4


def test_batches_share_the_same_writer_threads(home, monkeypatch):
    strips = lights(home, 2 * actions.SHADOW_WRITERS)
    threads: set[threading.Thread] = set()
    # Every batch needs all its writers at once.
    together = threading.Barrier(actions.SHADOW_WRITERS, timeout=10)

    def update_desired(thing, desired, reported=None, **kwargs):
        threads.add(threading.current_thread())
        together.wait()
        return {}

    monkeypatch.setattr(shadow, "update_desired", update_desired)
    for on in (True, False, True):
        assert actions.do_set_many(Device.objects.filter(home=home), {"on": on}).ok
    assert len(threads) == actions.SHADOW_WRITERS
    assert threading.current_thread() not in threads
    assert len(strips) == Device.objects.filter(desired={"on": True}).count()
