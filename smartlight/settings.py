"""Smart Light settings: one module, fed by environment variables.

Local mode (the default) needs no AWS account: localcloud stands in for AWS on loopback.
`SMARTLIGHT_AWS_MODE=aws` talks to real AWS and refuses to start without what it needs.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


AWS_MODE = env_str("SMARTLIGHT_AWS_MODE", "local")
if AWS_MODE not in {"local", "aws"}:
    raise ImproperlyConfigured(f"SMARTLIGHT_AWS_MODE must be 'local' or 'aws', got {AWS_MODE!r}")


def env_required(name: str, default: str = "") -> str:
    """A variable that AWS mode cannot run without; local mode takes the default."""
    value = os.environ.get(name, "")
    if value:
        return value
    if AWS_MODE == "aws":
        raise ImproperlyConfigured(
            f"{name} is required when SMARTLIGHT_AWS_MODE=aws; set it in the environment "
            "(on Elastic Beanstalk: eb setenv)."
        )
    return default


def env_secret(name: str, default: str = "") -> str:
    """A secret: read from Secrets Manager when `<name>_ARN` names one, else `<name>` itself."""
    arn = os.environ.get(f"{name}_ARN", "")
    if not arn:
        return os.environ.get(name, default)
    from smartlight.aws import read_secret

    region = os.environ.get("AWS_REGION") or "us-east-1"
    try:
        return read_secret(arn, region, os.environ.get("AWS_ENDPOINT_SECRETSMANAGER") or None)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name}_ARN: cannot read the secret {arn}: {exc}") from exc


DEBUG = env_bool("DEBUG", AWS_MODE == "local")

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "smartlight.views.csrf_failure"
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django_htmx",
    # django-ninja's own static files: the API docs page loads Swagger UI from here, not a CDN.
    "ninja",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.amazon_cognito",
    "accounts",
    "devices",
    "schedules",
]

MIDDLEWARE = [
    # Before anything reads the Host header: the load balancer checks by private IP.
    "smartlight.middleware.HealthCheckMiddleware",
    "smartlight.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "smartlight.middleware.SignedOutMiddleware",
    "accounts.middleware.CurrentHomeMiddleware",
]

ROOT_URLCONF = "smartlight.urls"
WSGI_APPLICATION = "smartlight.wsgi.application"
ASGI_APPLICATION = "smartlight.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.homes",
            ],
        },
    },
]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if os.environ.get("RDS_HOSTNAME"):
        # Elastic Beanstalk's attached RDS instance.
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("RDS_DB_NAME", "ebdb"),
            "USER": os.environ.get("RDS_USERNAME", ""),
            "PASSWORD": os.environ.get("RDS_PASSWORD", ""),
            "HOST": os.environ["RDS_HOSTNAME"],
            "PORT": os.environ.get("RDS_PORT", "5432"),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if AWS_MODE == "aws":
        raise ImproperlyConfigured(
            "DATABASE_URL (or Elastic Beanstalk's RDS_* variables) is required when "
            "SMARTLIGHT_AWS_MODE=aws"
        )
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        # IMMEDIATE: a transaction takes the write lock when it begins, so concurrent writers
        # (web, consumer, worker, schedule runner) queue for up to `timeout` seconds instead of
        # failing with "database is locked" when two read-then-write transactions collide.
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

SITE_ID = 1
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "account_login"

# --- shared cache and rate limits ----------------------------------------------------------
# allauth's sign-in and sign-up limits count in the cache, which every worker process must
# share: Redis when REDIS_URL is set, the database otherwise (its table is created by a
# migration of `accounts`). The API's limits count in the database (accounts/ratelimit.py).
REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "smartlight_cache",
    }
}
# "<requests>/<period>" with period s, m, h or d.
API_RATE_PER_ADDRESS = env_str("API_RATE_PER_ADDRESS", "1200/m")
API_RATE_PER_TOKEN = env_str("API_RATE_PER_TOKEN", "600/m")
# Proxies in front of the platform that append to X-Forwarded-For (Elastic Beanstalk's load
# balancer: 1). The client address is the entry that many places from the right.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if AWS_MODE == "aws" else 0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
# Sign-in: failures are counted per (account, address) pair and per address, never per account
# alone, so nobody can lock someone else out by typing wrong passwords for their address.
# The pair key is built by accounts.adapters.AccountAdapter.
ACCOUNT_RATE_LIMITS = {
    "login": env_str("LOGIN_RATE_PER_ADDRESS", "30/m/ip"),
    "login_failed": env_str("LOGIN_FAILED_RATE", "10/m/ip,100/h/ip,5/15m/key"),
}

# --- allauth -------------------------------------------------------------------------------
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "none" if DEBUG else "optional")
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False

COGNITO_DOMAIN = env_str("COGNITO_DOMAIN").rstrip("/")
if COGNITO_DOMAIN and "://" not in COGNITO_DOMAIN:
    # allauth builds its URLs as f"{DOMAIN}/oauth2/token": the scheme must be there.
    COGNITO_DOMAIN = "https://" + COGNITO_DOMAIN
COGNITO_CLIENT_ID = env_str("COGNITO_CLIENT_ID")
COGNITO_CLIENT_SECRET = env_secret("COGNITO_CLIENT_SECRET")
COGNITO_ENABLED = bool(COGNITO_DOMAIN and COGNITO_CLIENT_ID and COGNITO_CLIENT_SECRET)
SOCIALACCOUNT_PROVIDERS: dict = {}
if COGNITO_ENABLED:
    SOCIALACCOUNT_PROVIDERS["amazon_cognito"] = {
        "DOMAIN": COGNITO_DOMAIN,
        "APPS": [
            {
                "client_id": COGNITO_CLIENT_ID,
                "secret": COGNITO_CLIENT_SECRET,
                "settings": {},
            }
        ],
    }

# In AWS, mail goes through SES (smartlight/mail.py); EMAIL_HOST etc. serve an SMTP backend.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if AWS_MODE == "local"
    else "smartlight.mail.SESEmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Smart Light <noreply@smartlight.local>")

# --- AWS -----------------------------------------------------------------------------------
AWS_REGION = env_str("AWS_REGION", "us-east-1")
# IoT data plane endpoint: the account's ATS endpoint in AWS, localcloud's HTTP API locally.
IOT_ENDPOINT = env_required("IOT_ENDPOINT", "")
IOT_DATA_ENDPOINT_URL = env_str(
    "IOT_DATA_ENDPOINT_URL",
    f"https://{IOT_ENDPOINT}" if AWS_MODE == "aws" else "http://127.0.0.1:18443",
)
MOTO_ENDPOINT_URL = env_str("MOTO_ENDPOINT_URL", "http://127.0.0.1:15000")
# Per-service endpoint overrides in local mode: AWS_ENDPOINT_<SERVICE> (e.g. AWS_ENDPOINT_SQS).
AWS_ENDPOINT_OVERRIDES = {
    key[len("AWS_ENDPOINT_") :].lower().replace("_", "-"): value
    for key, value in os.environ.items()
    if key.startswith("AWS_ENDPOINT_") and value
}
IOT_COOKIE_TABLE = env_str("IOT_COOKIE_TABLE", "iot_cookie")
SHADOW_EVENTS_QUEUE = env_str("SHADOW_EVENTS_QUEUE", "smartlight-shadow-events")
SCHEDULE_LAMBDA_ARN = env_required(
    "SCHEDULE_LAMBDA_ARN",
    f"arn:aws:lambda:{AWS_REGION}:123456789012:function:smartlight-schedule",
)
SCHEDULE_BACKEND = env_str("SCHEDULE_BACKEND", "rules")
if SCHEDULE_BACKEND not in {"rules", "scheduler"}:
    raise ImproperlyConfigured(
        f"SCHEDULE_BACKEND must be 'rules' or 'scheduler', got {SCHEDULE_BACKEND!r}"
    )
# EventBridge rules per event bus (an adjustable AWS quota); a warning comes well before it.
SCHEDULE_RULES_QUOTA = env_int("SCHEDULE_RULES_QUOTA", 300)
# Names of this environment's EventBridge rules and schedules start with it (one account can
# hold several environments; each reconciles only its own).
SCHEDULE_NAME_PREFIX = env_str("SCHEDULE_NAME_PREFIX", "smartlight-")
FIRMWARE_BUCKET = env_str("FIRMWARE_BUCKET")
SCHEDULER_ROLE_ARN = env_str(
    "SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/smartlight-scheduler"
)
MQTT_URL = env_str("MQTT_URL", "mqtt://127.0.0.1:18830")

# --- Provisioning lights ----------------------------------------------------------------------
IOT_DEVICE_POLICY = env_str("IOT_DEVICE_POLICY", "smartlight-device")
IOT_CLAIM_POLICY = env_str("IOT_CLAIM_POLICY", "smartlight-claim")
IOT_THING_TYPE = env_str("IOT_THING_TYPE", "smartlight")
FLEET_TEMPLATE_NAME = env_str("FLEET_TEMPLATE_NAME", "smartlight-fleet")
SERIALS_TABLE = env_str("SERIALS_TABLE", "smartlight-serials")
# Where a light's bundle says to connect: the account's ATS endpoint on 8883 in AWS,
# localcloud's TLS listener locally.
IOT_MQTT_HOST = env_str("IOT_MQTT_HOST", IOT_ENDPOINT if AWS_MODE == "aws" else "127.0.0.1")
IOT_MQTT_PORT = env_int("IOT_MQTT_PORT", 8883 if AWS_MODE == "aws" else 18883)
# The server CA written into bundles: Amazon Root CA 1 in AWS, localcloud's own CA locally.
IOT_SERVER_CA_FILE = env_str(
    "IOT_SERVER_CA_FILE",
    "" if AWS_MODE == "aws" else str(BASE_DIR / "var" / "localcloud" / "ca" / "ca.pem"),
)
# The portal's public address, printed into the claim QR codes (https://<portal>/claim/<code>).
PORTAL_URL = env_str("PORTAL_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
CLAIM_CODE_TTL_DAYS = env_int("CLAIM_CODE_TTL_DAYS", 730)
# Claim-code guesses allowed per person and per address in a window (the shared cache counts).
CLAIM_GUESSES_PER_WINDOW = env_int("CLAIM_GUESSES_PER_WINDOW", 10)
CLAIM_GUESS_WINDOW_S = env_int("CLAIM_GUESS_WINDOW_S", 900)

# --- Celery --------------------------------------------------------------------------------
# SQS in AWS, Redis when pointed there, and a filesystem transport that needs no server locally.
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL", "sqs://" if AWS_MODE == "aws" else "filesystem://localhost//"
)
# The stack's SQS queue (with its dead-letter queue): nothing to create, list or guess.
CELERY_QUEUE_URL = env_str("CELERY_QUEUE_URL")
_celery_dir = Path(env_str("CELERY_FS_DIR", str(BASE_DIR / "var" / "celery")))
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (_celery_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_celery_dir / "control"),
        "data_folder_in": str(_celery_dir / "in"),
        "data_folder_out": str(_celery_dir / "in"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("sqs://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"region": AWS_REGION, "queue_name_prefix": "smartlight-"}
    if CELERY_QUEUE_URL:
        CELERY_BROKER_TRANSPORT_OPTIONS = {
            "region": AWS_REGION,
            "predefined_queues": {"celery": {"url": CELERY_QUEUE_URL}},
        }
        # SQS has no broadcast: remote control and events would need queues of their own.
        CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
        CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
# Periodic safety nets (celery beat): mirrors whose on-commit push failed are retried here.
CELERY_BEAT_SCHEDULE: dict = {
    # Every registered mirror (iot_cookie, retired things, schedules): rows whose push failed
    # are pushed again.
    "flush-outboxes": {"task": "smartlight.outbox.flush", "schedule": 300.0},
    # The Lambda re-points schedule mirrors after each run; this repairs one it failed to.
    "schedules-repair-stalled": {
        "task": "schedules.tasks.repair_stalled_mirrors",
        "schedule": 300.0,
    },
    "schedules-advance-fired": {
        "task": "schedules.tasks.advance_fired_schedules",
        "schedule": 60.0,
    },
}
CELERY_ACCEPT_CONTENT = ["json"]

# JSON lines on stdout in AWS (Elastic Beanstalk streams them to CloudWatch Logs), each with
# the request id that the response also carries as X-Request-Id.
LOG_FORMAT = env_str("LOG_FORMAT", "json" if AWS_MODE == "aws" else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'plain', got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "smartlight.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "smartlight.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # RequestIdMiddleware writes one line per request; runserver's own would repeat it.
        "django.server": {"level": "WARNING"},
        "smartlight.access": {"level": env_str("ACCESS_LOG_LEVEL", "INFO")},
    },
}

# --- HTTP security -------------------------------------------------------------------------
# htmx and the portal's scripts and styles are files under /static: nothing inline, no eval.
_CSP_FORM_ACTION = ["'self'", COGNITO_DOMAIN] if COGNITO_DOMAIN else ["'self'"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        # A form may post here, and its redirect may lead on to Cognito's sign-in.
        "form-action": _CSP_FORM_ACTION,
    }
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The load balancer redirects too; this covers a request that reaches nginx directly.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
