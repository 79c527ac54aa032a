"""The bundle `eb deploy` uploads: what Elastic Beanstalk needs, no local state or secrets, and
each Procfile process starts from it under production settings (AWS faked by a moto server)."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml

from deploy import bundle

ROOT = Path(__file__).resolve().parents[2]
SECRET_TEXT = re.compile(
    rb"-----BEGIN (RSA |EC )?PRIVATE KEY-----|AKIA[0-9A-Z]{16}"
    rb"|aws_secret_access_key\s*=\s*[\"']?[A-Za-z0-9/+]{40}"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return bundle.build(tmp_path_factory.mktemp("bundle") / "bundle.zip")


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_the_bundle_holds_what_elastic_beanstalk_needs(built):
    held = set(names(built))
    required = {"Procfile", "requirements.txt", "manage.py", "smartlight/wsgi.py",
                "smartlight/settings.py", "smartlight/beat.py", "templates/base.html",
                "static/js/htmx.min.js", ".ebextensions/01_django.config",
                ".ebextensions/02_https.config", ".ebextensions/03_logs.config"}
    assert required <= held, required - held
    for app in ("accounts", "devices", "schedules"):
        assert any(n.startswith(f"{app}/migrations/0001") for n in held), app


def test_the_bundle_holds_no_local_state_tools_or_secrets(built):
    for name in names(built):
        first = name.split("/", 1)[0]
        assert first not in {".venv", "venv", "node_modules", ".git", "var", "build",
                             "staticfiles", ".pytest_cache", ".elasticbeanstalk"}, name
        assert "__pycache__" not in name and not name.endswith((".pyc", ".sqlite3")), name
        assert not name.endswith((".pem", ".key", ".crt")) and not name.startswith(".env"), name
    with zipfile.ZipFile(built) as archive:
        for name in archive.namelist():
            assert not SECRET_TEXT.search(archive.read(name)), f"{name} looks like a secret"
        runtime = archive.read("requirements.txt").decode()
    assert "moto" not in runtime and "pytest" not in runtime and "awsebcli" not in runtime


def test_ebignore_leaves_out_local_files_that_git_would_not_know_about(tmp_path):
    """The EB CLI bundles uncommitted files too when .ebignore exists: they must be named."""
    shutil.copy(ROOT / ".ebignore", tmp_path / ".ebignore")
    keep = ["Procfile", "smartlight/settings.py", ".ebextensions/01_django.config",
            ".elasticbeanstalk/prod.cfg.yml"]
    leave = [".env", ".env.production", "var/localcloud/state.json", "db.sqlite3",
             "certs/private.pem.key", "firmware/device/certs/claim.pem.crt",
             "firmware/config.json", "firmware/wifi.dat", ".venv/bin/python",
             "node_modules/htmx.org/package.json", ".git", "build/lambda.zip",
             "staticfiles/app.css", "smartlight/__pycache__/settings.cpython-311.pyc",
             ".elasticbeanstalk/config.yml", ".elasticbeanstalk/saved_configs/prod.cfg.yml"]
    for name in keep + leave:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = set(bundle.bundle_files(tmp_path))
    assert set(keep) <= found
    assert not found & set(leave), found & set(leave)


# --- each Procfile process, started from the unpacked bundle ------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def fake_aws():
    from moto.server import ThreadedMotoServer

    # Port 0: the server binds a free port itself (no window for another process to take it).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def unpacked(built, tmp_path_factory, fake_aws) -> tuple[Path, dict[str, str]]:
    """The bundle unpacked like /var/app/current, its container commands run, and the
    environment Elastic Beanstalk would give it (stack outputs, AWS endpoints faked)."""
    app = tmp_path_factory.mktemp("current")
    with zipfile.ZipFile(built) as archive:
        archive.extractall(app)

    def client(service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=fake_aws,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    sqs = client("sqs")
    sqs.create_queue(QueueName="smartlight-test-shadow-events")
    sqs.create_queue(QueueName="smartlight-test-shadow-events-dead")
    celery_url = sqs.create_queue(QueueName="smartlight-test-celery")["QueueUrl"]
    secret_arn = client("secretsmanager").create_secret(
        Name="smartlight/test/secret-key", SecretString="Zq8vN3kLm5Tx2Rb7Wc9Hy4Jd6Fg1Ps0Ae3Uo8Ki5"
        "Xn2Vb7Qm4Lr9")["ARN"]

    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(app),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(app),
        "DJANGO_SETTINGS_MODULE": "smartlight.settings",
        "SMARTLIGHT_AWS_MODE": "aws",
        "DEBUG": "false",
        "SECRET_KEY_ARN": secret_arn,
        "DATABASE_URL": f"sqlite:///{app / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "lights.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://lights.example.com",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "IOT_ENDPOINT": "abc123-ats.iot.us-east-1.amazonaws.com",
        "SCHEDULE_LAMBDA_ARN": "arn:aws:lambda:us-east-1:123456789012:function:sl-test-schedule",
        "SHADOW_EVENTS_QUEUE": "smartlight-test-shadow-events",
        "CELERY_QUEUE_URL": celery_url,
        "CELERY_BROKER_URL": "sqs://testing:testing@" + fake_aws.split("://", 1)[1],
        "BEAT_STATE_DIR": str(app / "beat"),
        "PORT": str(free_port()),
    }
    # What .ebextensions sets for every process (PYTHONPATH is the unpacked bundle here).
    options = yaml.safe_load((app / ".ebextensions" / "01_django.config").read_text())
    for name, value in options["option_settings"][
            "aws:elasticbeanstalk:application:environment"].items():
        if name != "PYTHONPATH":
            env[name] = str(value)
    for service in ("SQS", "DYNAMODB", "SECRETSMANAGER", "SESV2", "EVENTS", "SCHEDULER", "IOT",
                    "IOT_DATA"):
        env[f"AWS_ENDPOINT_{service}"] = fake_aws

    commands = options["container_commands"]
    for name, command in sorted(commands.items()):
        # On the instance: source /var/app/venv/*/bin/activate && python manage.py ...
        line = command["command"].split("&&", 1)[1].strip()
        done = subprocess.run(["bash", "-c", line], cwd=app, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
    return app, env


def start(process: str, app: Path, env: dict[str, str]) -> subprocess.Popen:
    procfile = dict(line.split(":", 1) for line in (app / "Procfile").read_text().splitlines()
                    if line.strip())
    return subprocess.Popen(["bash", "-c", "exec " + procfile[process].strip()], cwd=app,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(proc: subprocess.Popen, pattern: str, timeout: float = 60) -> str:
    """Reads the process's output until `pattern` appears; returns everything read."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
            if re.search(pattern.encode(), seen):
                return seen.decode(errors="replace")
        elif proc.poll() is not None:
            break
    raise AssertionError(f"no {pattern!r} within {timeout} s:\n{seen.decode(errors='replace')}")


def stop(proc: subprocess.Popen) -> int:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_web_starts_and_answers_the_health_check_by_private_ip(unpacked):
    app, env = unpacked
    proc = start("web", app, env)
    try:
        wait_for(proc, r"Booting worker")
        request = urllib.request.Request(f"http://127.0.0.1:{env['PORT']}/healthz",
                                         headers={"Host": "172.31.20.7"})
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    assert response.status == 200
                    assert response.read() == b"ok"
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        # A page through the load balancer's HTTPS listener: rendered from collected static
        # files, with its request id in the answer and in its JSON log line on stdout.
        page = urllib.request.Request(
            f"http://127.0.0.1:{env['PORT']}/accounts/login/",
            headers={"Host": "lights.example.com", "X-Forwarded-Proto": "https",
                     "X-Request-Id": "lb-trace-1"},
        )
        with urllib.request.urlopen(page, timeout=10) as response:  # noqa: S310
            assert response.status == 200
            assert response.headers["X-Request-Id"] == "lb-trace-1"
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        wait_for(proc, r'"logger": "smartlight.access".*"request_id": "lb-trace-1"')
    finally:
        assert stop(proc) == 0


def test_the_worker_connects_to_its_sqs_queue(unpacked):
    app, env = unpacked
    proc = start("worker", app, env)
    try:
        output = wait_for(proc, r"celery@\S+ ready\.", timeout=90)
        assert "smartlight-test-celery" in output or "sqs://" in output
    finally:
        stop(proc)


def test_beat_takes_the_lock_and_starts(unpacked):
    app, env = unpacked
    proc = start("beat", app, env)
    try:
        wait_for(proc, r"holding the beat lock", timeout=60)
        wait_for(proc, r"beat: Starting", timeout=60)
    finally:
        assert stop(proc) == 0


def test_the_consumer_polls_its_queue(unpacked):
    app, env = unpacked
    proc = start("consumer", app, env)
    try:
        wait_for(proc, r"consuming smartlight-test-shadow-events", timeout=60)
    finally:
        assert stop(proc) == 0
