"""Settings come from the environment; AWS mode refuses to start without what it needs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_with_settings(code: str, **env: str) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter, after the settings load under exactly `env`
    (on top of the caller's environment minus every variable the settings read)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DATABASE_URL", "RDS_", "SMARTLIGHT_", "IOT_", "SECRET_KEY",
                                  "SCHEDULE_", "DEBUG", "CELERY_", "ALLOWED_HOSTS",
                                  "COGNITO_", "AWS_"))}
    clean.update(env)
    prelude = (
        "import django, json, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'smartlight.settings');from django.conf import settings;"
    )
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


def load_settings(**env: str) -> subprocess.CompletedProcess:
    return run_with_settings(
        "db = settings.DATABASES['default'];"
        "print(db['ENGINE'], db.get('NAME'), db.get('HOST'), settings.DEBUG)",
        **env,
    )


def settings_values(*names: str, **env: str) -> dict:
    """The named settings as loaded under `env` (JSON round-trip: tuples become lists)."""
    result = run_with_settings(
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_local_mode_defaults_to_sqlite():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("django.db.backends.sqlite3")


def test_it_reads_database_url():
    result = load_settings(DATABASE_URL="postgres://u:p@db.example:5433/lights")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["django.db.backends.postgresql", "lights", "db.example"]


def test_it_understands_elastic_beanstalk_rds_variables():
    result = load_settings(RDS_HOSTNAME="rds.internal", RDS_DB_NAME="ebdb",
                           RDS_USERNAME="u", RDS_PASSWORD="p")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["django.db.backends.postgresql", "ebdb", "rds.internal"]


def test_aws_mode_names_the_missing_variable():
    result = load_settings(SMARTLIGHT_AWS_MODE="aws", SECRET_KEY="x" * 50,
                           DATABASE_URL="postgres://u@h/d")
    assert result.returncode != 0
    assert "IOT_ENDPOINT is required when SMARTLIGHT_AWS_MODE=aws" in result.stderr


def test_aws_mode_needs_a_database():
    result = load_settings(SMARTLIGHT_AWS_MODE="aws", SECRET_KEY="x" * 50,
                           IOT_ENDPOINT="abc-ats.iot.us-east-1.amazonaws.com",
                           SCHEDULE_LAMBDA_ARN="arn:aws:lambda:us-east-1:1:function:f")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_production_needs_a_secret_key():
    result = load_settings(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_an_unknown_mode_is_refused():
    result = load_settings(SMARTLIGHT_AWS_MODE="cloudy")
    assert result.returncode != 0
    assert "SMARTLIGHT_AWS_MODE must be 'local' or 'aws'" in result.stderr


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "s" * 50}


def test_allowed_hosts_are_read_from_the_environment():
    values = settings_values(
        "ALLOWED_HOSTS", ALLOWED_HOSTS=" lights.example.com, .elasticbeanstalk.com ,,", **PRODUCTION
    )
    assert values["ALLOWED_HOSTS"] == ["lights.example.com", ".elasticbeanstalk.com"]


def test_production_without_allowed_hosts_accepts_no_host():
    assert settings_values("ALLOWED_HOSTS", **PRODUCTION)["ALLOWED_HOSTS"] == []


def test_local_development_allows_only_loopback_names_by_default():
    assert settings_values("ALLOWED_HOSTS")["ALLOWED_HOSTS"] == [
        "127.0.0.1", "localhost", "testserver"]


def test_a_request_for_a_host_outside_allowed_hosts_is_refused():
    # Django's own host check, run against the settings as the environment made them.
    result = run_with_settings(
        "django.setup();"
        "from django.core.exceptions import DisallowedHost;"
        "from django.test import RequestFactory;"
        "print(RequestFactory().get('/', HTTP_HOST='lights.example.com').get_host());"
        "\ntry:\n RequestFactory().get('/', HTTP_HOST='evil.example').get_host()\n"
        "except DisallowedHost:\n print('refused')",
        ALLOWED_HOSTS="lights.example.com", **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lights.example.com", "refused"]


COGNITO = {
    "COGNITO_DOMAIN": "smartlight.auth.eu-west-1.amazoncognito.com",
    "COGNITO_CLIENT_ID": "client-123",
    "COGNITO_CLIENT_SECRET": "secret-456",
}

# What allauth itself makes of the settings: the provider's configuration and the token URL
# its Cognito adapter would call (allauth builds it as f"{DOMAIN}/oauth2/token").
ALLAUTH_VIEW = (
    "django.setup();"
    "from allauth.socialaccount import app_settings;"
    "from allauth.socialaccount.providers.amazon_cognito.views import "
    "AmazonCognitoOAuth2Adapter as A;"
    "cfg = app_settings.PROVIDERS.get('amazon_cognito');"
    "print(json.dumps({'enabled': settings.COGNITO_ENABLED, 'providers': app_settings.PROVIDERS,"
    " 'token_url': A(None).access_token_url if cfg else None}))"
)


def cognito_view(**env: str) -> dict:
    result = run_with_settings(ALLAUTH_VIEW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cognito_is_enabled_when_domain_client_id_and_secret_are_set():
    view = cognito_view(**COGNITO)
    assert view["enabled"] is True
    assert view["providers"] == {"amazon_cognito": {
        "DOMAIN": "https://smartlight.auth.eu-west-1.amazoncognito.com",
        "APPS": [{"client_id": "client-123", "secret": "secret-456", "settings": {}}],
    }}
    assert view["token_url"] == (
        "https://smartlight.auth.eu-west-1.amazoncognito.com/oauth2/token")


def test_a_cognito_domain_with_a_scheme_is_kept_without_its_trailing_slash():
    view = cognito_view(**{**COGNITO, "COGNITO_DOMAIN": "https://login.lights.example.com/"})
    assert view["providers"]["amazon_cognito"]["DOMAIN"] == "https://login.lights.example.com"
    assert view["token_url"] == "https://login.lights.example.com/oauth2/token"


def test_cognito_is_off_by_default():
    view = cognito_view()
    assert (view["enabled"], view["providers"], view["token_url"]) == (False, {}, None)


@pytest.mark.parametrize("missing", sorted(COGNITO))
def test_cognito_stays_off_when_one_of_its_three_variables_is_missing(missing):
    absent = cognito_view(**{k: v for k, v in COGNITO.items() if k != missing})
    empty = cognito_view(**{**COGNITO, missing: ""})
    for view in (absent, empty):
        assert (view["enabled"], view["providers"], view["token_url"]) == (False, {}, None)
