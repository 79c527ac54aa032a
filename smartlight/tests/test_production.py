"""Production behaviour: the health check behind a load balancer, mail through SES, JSON logs
with request ids, the Content-Security-Policy and HSTS, `check --deploy`."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from email import message_from_bytes
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from smartlight import logs

ROOT = Path(__file__).resolve().parents[2]
PRIVATE_IP = "172.31.20.7"


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["lights.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    return settings


def test_healthz_answers_the_load_balancer_that_asks_by_private_ip(production, db):
    response = Client().get("/healthz", HTTP_HOST=PRIVATE_IP)
    assert response.status_code == 200
    assert response.content == b"ok"


def test_healthz_answers_head_requests_too(production, db):
    assert Client().head("/healthz", HTTP_HOST=f"{PRIVATE_IP}:80").status_code == 200


def test_every_other_path_still_refuses_an_unknown_host(production, db):
    assert Client().get("/accounts/login/", HTTP_HOST=PRIVATE_IP).status_code == 400
    assert Client().get("/healthz/", HTTP_HOST=PRIVATE_IP).status_code == 400
    assert Client().post("/healthz", HTTP_HOST=PRIVATE_IP).status_code == 400


def test_healthz_reports_a_database_it_cannot_reach(production, db, monkeypatch):
    def broken():
        raise connection.Database.OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", broken)
        response = Client().get("/healthz", HTTP_HOST=PRIVATE_IP)
    assert response.status_code == 503


def test_plain_http_is_redirected_to_https(production, db):
    response = Client().get("/accounts/login/", HTTP_HOST="lights.example.com")
    assert response.status_code == 301
    assert response["Location"] == "https://lights.example.com/accounts/login/"


def test_https_pages_carry_hsts_and_the_content_security_policy(production, db):
    response = Client().get(
        "/accounts/login/", HTTP_HOST="lights.example.com", HTTP_X_FORWARDED_PROTO="https"
    )
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"


def test_the_portal_has_no_inline_script_or_style_the_policy_would_block():
    """Templates load scripts and styles from /static only (CSP: script-src/style-src 'self')."""
    import re

    for path in (ROOT / "templates").rglob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", path.read_text())
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{path}: inline script {tag}"
        assert "<style" not in text, f"{path}: inline <style>"
        assert not re.search(r"\sstyle=\"", text), f"{path}: style attribute"
        assert not re.search(r"\son[a-z]+=\"", text), f"{path}: inline event handler"
        assert "hx-on" not in text, f"{path}: hx-on needs eval"
    # htmx would inject a <style> for its indicators; app.css carries those rules instead.
    assert '"includeIndicatorStyles":false' in (ROOT / "templates" / "base.html").read_text()


def test_responses_carry_the_request_id_that_their_log_lines_carry(db, caplog):
    with caplog.at_level(logging.INFO, logger="smartlight.access"):
        response = Client().get("/healthz/", HTTP_X_REQUEST_ID="trace-0123")
    assert response["X-Request-Id"] == "trace-0123"
    (record,) = [r for r in caplog.records if r.name == "smartlight.access"]
    assert record.request_id == "trace-0123"
    assert record.status == response.status_code
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["request_id"] == "trace-0123"
    assert line["path"] == "/healthz/"
    assert line["level"] == "INFO"


def test_a_request_without_an_id_gets_a_fresh_one(db):
    first = Client().get("/healthz/")["X-Request-Id"]
    second = Client().get("/healthz/")["X-Request-Id"]
    assert first != second and len(first) == 32


def test_an_unsafe_incoming_request_id_is_replaced(db):
    response = Client().get("/healthz/", HTTP_X_REQUEST_ID='x" injected\n')
    assert response["X-Request-Id"] != 'x" injected\n'
    assert len(response["X-Request-Id"]) == 32


def test_json_lines_keep_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed %s", ("once",), sys.exc_info()
        )
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "failed once"
    assert "ValueError: boom" in line["exception"]


def test_signing_up_sends_the_confirmation_mail_through_ses(aws, settings, db):
    from moto.backends import get_backend

    settings.EMAIL_BACKEND = "smartlight.mail.SESEmailBackend"
    settings.DEFAULT_FROM_EMAIL = "Smart Light <noreply@lights.example.com>"
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    aws.client("dynamodb").create_table(
        TableName=settings.IOT_COOKIE_TABLE,
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.client("sesv2").create_email_identity(EmailIdentity="lights.example.com")

    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/signup/")
    response = client.post(
        "/accounts/signup/",
        {
            "email": "erin@example.com",
            "password1": "lamp-post-42x",
            "password2": "lamp-post-42x",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )

    assert response.status_code == 302
    backend = get_backend("ses")["123456789012"][settings.AWS_REGION]
    (sent,) = backend.sent_messages
    message = message_from_bytes(sent.raw_data.encode() if isinstance(sent.raw_data, str)
                                 else sent.raw_data)
    assert message["To"] == "erin@example.com"
    assert message["From"] == "Smart Light <noreply@lights.example.com>"
    body = message.get_payload(0).get_payload(decode=True) if message.is_multipart() else (
        message.get_payload(decode=True))
    assert b"/accounts/confirm-email/" in body


def test_ses_refusing_an_unverified_sender_is_an_error_not_silence(aws, settings):
    from django.core.mail import send_mail

    settings.EMAIL_BACKEND = "smartlight.mail.SESEmailBackend"
    with pytest.raises(Exception, match="not verified|MessageRejected"):
        send_mail("hi", "body", "noreply@unverified.example", ["erin@example.com"])


def production_environment(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}}
    keep.update({
        "SMARTLIGHT_AWS_MODE": "aws",
        "DEBUG": "false",
        "SECRET_KEY": "q7Vd2mXc9LpR4sTz8KwB1nYh6JfG3aEu5oNi0yUe7rWt2bAsLm3Qp9Zx",
        "DATABASE_URL": "sqlite:////tmp/smartlight-check-deploy.sqlite3",
        "IOT_ENDPOINT": "abc123-ats.iot.us-east-1.amazonaws.com",
        "SCHEDULE_LAMBDA_ARN": "arn:aws:lambda:us-east-1:123456789012:function:sl-prod-schedule",
        "ALLOWED_HOSTS": "lights.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://lights.example.com",
    })
    keep.update(extra)
    return keep


def test_check_deploy_reports_nothing_in_aws_mode():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT, env=production_environment(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_secrets_come_from_secrets_manager_when_their_arn_is_given():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        import boto3

        secrets = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=url,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        key_arn = secrets.create_secret(Name="smartlight/prod/secret-key",
                                        SecretString="from-secrets-manager-" + "s" * 40)["ARN"]
        cognito_arn = secrets.create_secret(Name="smartlight/prod/cognito-client-secret",
                                            SecretString="cognito-secret")["ARN"]
        environment = production_environment(
            SECRET_KEY="", SECRET_KEY_ARN=key_arn, COGNITO_CLIENT_SECRET_ARN=cognito_arn,
            AWS_ENDPOINT_SECRETSMANAGER=url, AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
        )
        code = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                "'smartlight.settings'); from django.conf import settings; "
                "print(settings.SECRET_KEY); print(settings.COGNITO_CLIENT_SECRET)")
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["from-secrets-manager-" + "s" * 40, "cognito-secret"]

        missing = dict(environment, SECRET_KEY_ARN=key_arn + "-gone")
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=missing,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert "SECRET_KEY_ARN: cannot read the secret" in result.stderr
    finally:
        server.stop()
