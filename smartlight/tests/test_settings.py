"""Settings come from the environment; AWS mode refuses to start without what it needs."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DATABASE_URL", "RDS_", "SMARTLIGHT_", "IOT_", "SECRET_KEY",
                                  "SCHEDULE_", "DEBUG", "CELERY_"))}
    clean.update(env)
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'smartlight.settings');"
        "from django.conf import settings; db = settings.DATABASES['default'];"
        "print(db['ENGINE'], db.get('NAME'), db.get('HOST'), settings.DEBUG)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


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
