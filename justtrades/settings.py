"""Settings for Just.Trades, read from the environment.

Zero configuration gives the embedded default: SQLite and a Redis on a unix socket, both under
``var/``, generated secrets, the built-in paper broker. Production switches by environment
variables (see the README's configuration table) and refuses to start with DEBUG=False and no
real secrets.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import dj_database_url

from justtrades.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    secret_from_env_or_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCT_NAME = "Just.Trades"
VAR_DIR = Path(env_str("JT_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
TESTING = env_bool("JT_TESTING", False)

SECRET_KEY = secret_from_env_or_file(
    "SECRET_KEY", VAR_DIR / "secret_key", allow_generate=DEBUG or TESTING
)
# Fernet key for broker credentials at rest; losing it makes stored credentials unreadable.
FIELD_ENCRYPTION_KEY = secret_from_env_or_file(
    "FIELD_ENCRYPTION_KEY",
    VAR_DIR / "field_encryption_key",
    allow_generate=DEBUG or TESTING,
    generator=lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", ["http://127.0.0.1:8000", "http://localhost:8000"]
)
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files, not a CDN
    "channels",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.discord",
    "allauth.headless",  # JSON login, signup, password change and reset for API clients
    "justtrades",
    "accounts",
    "strategies",
    "recorder",
    "traders",
    "notifications",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "justtrades.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "justtrades.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "justtrades.urls"
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
                "justtrades.context_processors.product",
            ],
            # `|local_time` on every page without a load tag: one way to show a time.
            "builtins": ["justtrades.templatetags.clock"],
        },
    },
]
WSGI_APPLICATION = "justtrades.wsgi.application"
ASGI_APPLICATION = "justtrades.asgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
# The ASGI server runs each request's sync code in a thread of its own, so persistent
# per-thread connections would pile up: web processes (JT_DB_POOL=1, set by asgi.py) share a
# psycopg pool instead. Single-threaded processes (Celery, streams) keep persistent connections.
DB_POOL = env_bool("JT_DB_POOL", False)
# Web, worker, beat and the broker stream share one SQLite file: WAL lets readers run beside
# the writer, IMMEDIATE transactions queue writers (for up to `timeout` s) instead of failing at
# once when a read turns into a write. Applied to every SQLite database, however it was named.
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASE_URL:
    _default_db = dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=0 if DB_POOL else env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=not DB_POOL,
    )
    if DB_POOL and _default_db["ENGINE"] == "django.db.backends.postgresql":
        _default_db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2),
            "max_size": env_int("DB_POOL_MAX_SIZE", 16),
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
    if _default_db["ENGINE"] == "django.db.backends.sqlite3":
        _default_db["OPTIONS"] = {**SQLITE_OPTIONS, **_default_db.get("OPTIONS", {})}
    DATABASES = {"default": _default_db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
            "TEST": {"NAME": str(VAR_DIR / "test_db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis (Celery broker, Channels layer, cache) ------------------------------------------
# Unset: the embedded Redis that `make run` / `make test` start on a unix socket under var/.
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis" / "redis.sock"
REDIS_URL = env_str("REDIS_URL") or f"unix://{EMBEDDED_REDIS_SOCKET}"


def _kombu_url(url: str) -> str:
    """Kombu spells a unix-socket Redis as redis+socket://."""
    if url.startswith("unix://"):
        return "redis+socket://" + url[len("unix://") :]
    return url


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "jt"),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": env_str("CHANNELS_PREFIX", "jt:asgi"),
            "capacity": 500,
            "expiry": 30,
        },
    }
}

CELERY_BROKER_URL = _kombu_url(REDIS_URL)
CELERY_RESULT_BACKEND = _kombu_url(REDIS_URL)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# An acks_late task whose worker dies is redelivered to another worker.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Unacknowledged messages of a killed worker come back after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 120),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_ROUTES = {"notifications.tasks.*": {"queue": "notifications"}}

# --- the trading core ---------------------------------------------------------------------------
# A worker's hold on an account's turn lasts this long without renewal (renewed every third of
# it while working): a killed worker blocks its account no longer than this.
TURN_LEASE_SECONDS = env_int("TURN_LEASE_SECONDS", 6)
# The broker stream's mirror is trusted while its heartbeat is younger than this; older, the
# planner reads the broker over REST.
MIRROR_MAX_AGE_SECONDS = env_int("MIRROR_MAX_AGE_SECONDS", 10)
# Test suites only: a named crash to inject ("kill_before_fan_out" kills the worker between a
# signal's decision and the enqueue of its executions). Ignored outside JT_TESTING.
TEST_FAULT = os.environ.get("JT_TEST_FAULT", "") if TESTING else ""
# How long an execution waits for the broker's report of what it sent before moving on.
SETTLE_TIMEOUT_SECONDS = env_int("SETTLE_TIMEOUT_SECONDS", 5)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False

# --- Auth (django-allauth) -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
SITE_ID = 1
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
# Failed logins are throttled per IP and per account (allauth keeps the counters in the cache).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
}
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_PROVIDERS = {
    "discord": {
        "SCOPE": ["identify"],
        "APPS": [
            {
                "client_id": env_str("DISCORD_CLIENT_ID", ""),
                "secret": env_str("DISCORD_CLIENT_SECRET", ""),
            }
        ]
        if env_str("DISCORD_CLIENT_ID")
        else [],
    }
}

# Headless (JSON) auth under /_allauth/{browser,app}/v1/ beside the HTML pages. "browser":
# session cookie + CSRF token, for scripts running in a page of this site; "app": the
# X-Session-Token header, no cookies and no CSRF, for phone apps and scripts.
HEADLESS_ONLY = False
HEADLESS_CLIENTS = ("browser", "app")
# Links in the emails allauth sends on behalf of a JSON client open our own HTML pages.
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": "/accounts/confirm-email/{key}/",
    "account_reset_password_from_key": "/accounts/password/reset/key/{key}/",
    "account_signup": "/accounts/signup/",
}

EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Just.Trades <noreply@localhost>")

# --- API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an unauthenticated script gets 401 + WWW-Authenticate, not 403.
        "rest_framework.authentication.TokenAuthentication",
        # The session an app client opened through /_allauth/app/v1/auth/login.
        "allauth.headless.contrib.rest_framework.authentication.XSessionTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "justtrades.api.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "justtrades.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Just.Trades API",
    "DESCRIPTION": "TradingView alerts in, futures orders out. Session or token authentication.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/docs/ loads Swagger UI from our static files (drf-spectacular-sidecar, pinned) and
    # its start-up code from a URL of its own, so it runs under the site's CSP and never calls
    # out: no CDN, no online validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # One name per shared choice set, so the schema (and check --deploy) stays unambiguous.
    "ENUM_NAME_OVERRIDES": {
        "ExitUnitEnum": "strategies.models.ExitUnit",
        "StrategyLogKindEnum": "recorder.models.StrategyLog.Kind",
        "BrokerConnectionKindEnum": "accounts.models.BrokerConnection.Kind",
    },
}

# --- Brokers -----------------------------------------------------------------------------
TRADOVATE_DEMO_URL = env_str("TRADOVATE_DEMO_URL", "https://demo.tradovateapi.com/v1")
TRADOVATE_LIVE_URL = env_str("TRADOVATE_LIVE_URL", "https://live.tradovateapi.com/v1")
TRADOVATE_MD_URL = env_str("TRADOVATE_MD_URL", "wss://md.tradovateapi.com/v1/websocket")
TRADOVATE_APP_ID = env_str("TRADOVATE_APP_ID", "JustTrades")
TRADOVATE_APP_VERSION = env_str("TRADOVATE_APP_VERSION", "1.0")
TRADOVATE_TIMEOUT = env_float("TRADOVATE_TIMEOUT", 5.0)
# The built-in paper broker: our own Tradovate simulator, started by `make run`.
PAPER_BROKER_URL = env_str("PAPER_BROKER_URL", "http://127.0.0.1:8765/v1")
PAPER_BROKER_ENABLED = env_bool("PAPER_BROKER_ENABLED", True)
# Give every new user a Paper connection with a funded sub-account.
PAPER_AUTO_PROVISION = env_bool("PAPER_AUTO_PROVISION", True)
# Paper market orders fill this many ticks past the touch (the paper broker and the recorder
# alike): 0 fills at the price the chart saw; 1 is a fair cost of a market order in a liquid future.
PAPER_SLIPPAGE_TICKS = env_int("PAPER_SLIPPAGE_TICKS", 0)
# Paper orders fill in lots of the book's size (10 contracts a price) instead of at once. Off by
# default (paper accounts trade small); the fault suite turns it on.
PAPER_PARTIAL_FILLS = env_bool("PAPER_PARTIAL_FILLS", False)
# The paper broker refuses orders while CME Globex is closed (SessionClosed), and the recorder
# books nothing then either. Off in tests, which run at any hour of any day.
PAPER_ENFORCE_SESSIONS = env_bool("PAPER_ENFORCE_SESSIONS", not TESTING)
# Guards the simulator's own /sim endpoints (creating logins, moving prices); shared by the
# app and the simulator process through var/ when not set.
PAPER_BROKER_ADMIN_TOKEN = secret_from_env_or_file(
    "PAPER_BROKER_ADMIN_TOKEN", VAR_DIR / "paper_admin_token", allow_generate=True
)

# --- Webhooks ----------------------------------------------------------------------------
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 10_000)
WEBHOOK_RATE_LIMIT_PER_MINUTE = env_int("WEBHOOK_RATE_LIMIT_PER_MINUTE", 120)
WEBHOOK_ALLOWED_IPS = env_list("WEBHOOK_ALLOWED_IPS", [])
# Behind N reverse proxies the alert's source address is the Nth from the right of X-Forwarded-For.
WEBHOOK_PROXY_COUNT = env_int("WEBHOOK_PROXY_COUNT", 0)

# --- Notifications -----------------------------------------------------------------------
DISCORD_BOT_TOKEN = env_str("DISCORD_BOT_TOKEN", "")
DISCORD_API_URL = env_str("DISCORD_API_URL", "https://discord.com/api/v10")
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY", "")
VAPID_CLAIMS_EMAIL = env_str("VAPID_CLAIMS_EMAIL", "mailto:admin@localhost")

# --- Tests --------------------------------------------------------------------------------
# The Chromium the browser tests drive (Debian's package); they are skipped when it is absent.
JT_CHROMIUM_PATH = env_str("JT_CHROMIUM_PATH", "/usr/bin/chromium")

# --- Static files, i18n ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
# TradingView's lightweight-charts, copied from npm by scripts/bootstrap.sh; without it the
# analytics pages show their numbers and tables, and say how to get the charts.
CHART_LIBRARY = "vendor/lightweight-charts.standalone.production.js"

# --- Security ----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page script reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^webhooks?/"]

# --- Logging -----------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replace Django's own console handler, which would print every line a second time.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "asyncio": {"level": "WARNING"},
        # discord.py warns at start-up about voice and gateway intents a sending bot never uses.
        "discord.client": {"level": "ERROR"},
        "discord.state": {"level": "ERROR"},
    },
}
