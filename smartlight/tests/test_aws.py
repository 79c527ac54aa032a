import pytest

from conftest import in_threads
from smartlight import aws


@pytest.fixture(autouse=True)
def fresh_clients():
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_local_mode_points_iot_data_at_localcloud_and_the_rest_at_moto(settings):
    settings.AWS_MODE = "local"
    settings.IOT_DATA_ENDPOINT_URL = "http://127.0.0.1:18443"
    settings.MOTO_ENDPOINT_URL = "http://127.0.0.1:15000"
    settings.AWS_ENDPOINT_OVERRIDES = {}
    assert aws.client("iot-data").meta.endpoint_url == "http://127.0.0.1:18443"
    assert aws.client("sqs").meta.endpoint_url == "http://127.0.0.1:15000"
    assert aws.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:15000"


def test_a_per_service_override_wins(settings):
    settings.AWS_MODE = "local"
    settings.AWS_ENDPOINT_OVERRIDES = {"sqs": "http://127.0.0.1:9324"}
    assert aws.client("sqs").meta.endpoint_url == "http://127.0.0.1:9324"


def test_aws_mode_uses_amazons_endpoints(settings):
    settings.AWS_MODE = "aws"
    settings.AWS_REGION = "eu-west-1"
    settings.AWS_ENDPOINT_OVERRIDES = {}
    settings.IOT_DATA_ENDPOINT_URL = "https://abc-ats.iot.eu-west-1.amazonaws.com"
    assert aws.client("sqs").meta.endpoint_url == "https://sqs.eu-west-1.amazonaws.com"
    assert aws.client("iot-data").meta.endpoint_url == (
        "https://abc-ats.iot.eu-west-1.amazonaws.com"
    )


def test_clients_have_timeouts_and_standard_retries(settings):
    settings.AWS_MODE = "local"
    config = aws.client("events").meta.config
    assert config.connect_timeout == 3
    assert config.read_timeout == 10
    assert config.retries["mode"] == "standard"


def test_clients_are_built_once_per_endpoint(settings):
    settings.AWS_MODE = "local"
    assert aws.client("events") is aws.client("events")


def test_healthz_answers_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_threads_asking_for_a_new_client_at_once_get_one_built_once(settings, monkeypatch):
    import threading
    import time

    settings.AWS_MODE = "local"
    built = []
    real = aws._new_client

    def slow_new_client(*key):
        built.append(key)
        time.sleep(0.05)  # a real build takes tens of ms: every thread arrives meanwhile
        return real(*key)

    monkeypatch.setattr(aws, "_new_client", slow_new_client)
    together = threading.Barrier(8, timeout=10)
    clients = []

    def ask():
        together.wait()
        clients.append(aws.client("iot-data"))

    in_threads(ask, 8)
    assert len(built) == 1
    assert len(clients) == 8 and all(c is clients[0] for c in clients)
