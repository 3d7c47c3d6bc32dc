"""Settings, read from the environment.

Two shapes share this file (see docs/architecture.md):
- embedded default: SQLite under var/, in-memory channel layer, in-process task worker;
- scaled: DATABASE_URL (PostgreSQL), REDIS_URL (channels-redis), `manage.py db_worker`.

`INBOX_ENV=production` switches on the production mode: SECRET_KEY must be given, DEBUG is
off, cookies are secure and `manage.py check --deploy` is clean.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = env(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


INBOX_ENV = env("INBOX_ENV", "development")
if INBOX_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("INBOX_ENV must be 'development' or 'production'")
PRODUCTION = INBOX_ENV == "production"

VAR_DIR = Path(env("INBOX_VAR_DIR", str(BASE_DIR / "var")))


def _development_secret_key() -> str:
    """Generated once and kept under var/ so sessions survive restarts."""
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY is required when INBOX_ENV=production")
    SECRET_KEY = _development_secret_key()

# Fernet keys for secrets stored in the database, newest first (see inbox/crypto.py).
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEYS")

DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public address of the site, used in links sent by email (invitations, resets).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env("SITE_NAME", "Parley")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "anymail",
    "accounts",
    "inbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "inbox.web.limits.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # Sync-only and innermost on purpose: Django then runs the whole chain and the view in
    # one thread, with one hop from the event loop. An async-capable middleware innermost
    # makes Django hop between threads several times per request (measured: bench/ingest.py).
    "accounts.middleware.ActiveUserMiddleware",
]

ROOT_URLCONF = "inbox.urls"
ASGI_APPLICATION = "inbox.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "inbox" / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "inbox.web.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI every request runs in a thread of its own, so persistent per-thread
        # connections would mean a new connection (and authentication) per request: use
        # psycopg's pool instead (CONN_MAX_AGE stays 0, as Django requires with a pool).
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2),
            "max_size": env_int("DB_POOL_MAX", 20),
            "timeout": 10,
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "inbox.sqlite3"),
            "OPTIONS": {
                # The web process, the in-process worker and commands run from another
                # process (e.g. an email piped into manage.py) share this file.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
EMBEDDED_DATABASE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer --------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    # Redis pub/sub: a group send is one PUBLISH, received once per subscribed process,
    # instead of a push into a list per socket (which also drops at capacity). Delivery is
    # at-most-once either way; clients fill gaps from the event log (docs/realtime.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env("CHANNELS_REDIS_PREFIX", "parley"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The cache holds throttles (website chat) and short-lived figures: shared by every process
# through Redis at scale, in memory in the embedded shape (one process).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CHANNELS_REDIS_PREFIX", "parley") + "-cache",
        }
    }

# --- Background work ------------------------------------------------------------------
# Both shapes use the durable database-backed queue. In the embedded shape the ASGI
# process runs a worker thread itself (inbox/worker.py); in the scaled shape run
# `manage.py db_worker` on as many machines as you like and set INBOX_IN_PROCESS_WORKER=false.
TASK_BACKEND = env("TASK_BACKEND", "database")
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[TASK_BACKEND],
    }
}
# How events reach sockets: "commit" publishes each event to the channel layer after its
# transaction commits (Redis layer, any number of processes); "poll" has the web process
# read new events from the log (the embedded shape, so that writes made by other
# processes, such as `manage.py` commands, still reach the in-memory layer).
EVENT_PUBLISHING = env("EVENT_PUBLISHING", "commit" if REDIS_URL else "poll")
INBOX_IN_PROCESS_WORKER = env_bool(
    "INBOX_IN_PROCESS_WORKER", not REDIS_URL and TASK_BACKEND == "database"
)

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3
INVITATION_TTL = timedelta(days=env_int("INVITATION_TTL_DAYS", 7))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login rate limiting (django-axes): keyed on the account *and* the client address, so an
# attacker elsewhere cannot lock a colleague out, and cooled off after a while.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.lockout.username_from_request"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip_from_request"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Outbound calls (webhooks, callback URLs, attachment downloads) refuse private, loopback
# and link-local addresses unless this is set (tests and all-internal deployments).
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env_bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", False)
# Messaging providers' API base URLs (tests point them at fake servers on loopback).
TELEGRAM_API_URL = env("TELEGRAM_API_URL", "https://api.telegram.org")
META_GRAPH_URL = env("META_GRAPH_URL", "https://graph.facebook.com/v21.0")
TWILIO_API_URL = env("TWILIO_API_URL", "https://api.twilio.com")
# Largest file downloaded from a messaging provider (WhatsApp allows documents of 100 MB).
MESSAGING_MEDIA_MAX_BYTES = env_int("MESSAGING_MEDIA_MAX_MB", 25) * 1024 * 1024
# How long processed messaging webhooks (their raw bodies) are kept, for admins to check.
PROVIDER_EVENT_RETENTION = timedelta(hours=env_int("PROVIDER_EVENT_RETENTION_HOURS", 72))
# How long the webhook intake (inbox/sources/intake.py) trusts what it read of an inbox: a
# rotated secret or a deactivated inbox takes effect within this many seconds.
WEBHOOK_INBOX_CACHE_SECONDS = env_int("WEBHOOK_INBOX_CACHE_SECONDS", 5)
# How long the event log keeps events for clients to resume from.
EVENT_RETENTION = timedelta(hours=env_int("EVENT_RETENTION_HOURS", 24))
# Number of reverse proxies in front of the app whose X-Forwarded-For we trust.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Website chat throttles ("N/second|minute|hour|day"), kept in the Django cache.
WIDGET_RATES = {
    "visitor_messages": env("WIDGET_VISITOR_MESSAGE_RATE", "20/min"),
    "address_messages": env("WIDGET_ADDRESS_MESSAGE_RATE", "120/min"),
    "address_sessions": env("WIDGET_ADDRESS_SESSION_RATE", "60/min"),
    "address_requests": env("WIDGET_ADDRESS_REQUEST_RATE", "600/min"),
}

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": (
        "REST API of the Parley shared inbox. Authenticate with a session (browser, with "
        "CSRF) or with `Authorization: Bearer <token>` using a personal API token."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))  # filebased backend only
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Parley <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# ESP credentials for django-anymail when EMAIL_BACKEND is an anymail backend.
# django-anymail: every ANYMAIL_<NAME> variable becomes ANYMAIL[<NAME>], e.g.
# ANYMAIL_WEBHOOK_SECRET (provider webhooks are off until it is set: docs/sources/email.md),
# ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY, ANYMAIL_POSTMARK_SERVER_TOKEN.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_")
}

# --- Static and media -----------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "inbox.static_storage.StaticStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_PERMISSIONS = 0o640
AVATAR_MAX_BYTES = 2 * 1024 * 1024
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_MB", 25) * 1024 * 1024
# Largest inbound email (the whole message, attachments included): refused above it
# (SMTP 552; the pipe command exits non-zero; IMAP and webhooks store it as failed).
INBOUND_EMAIL_MAX_BYTES = env_int("INBOUND_EMAIL_MAX_MB", 25) * 1024 * 1024
# Suggested drafts (inbox/drafts/): the engines, best first, and the confidence below which
# no draft is shown rather than a wrong one.
DRAFT_ENGINES = ["inbox.drafts.lexical.CannedReplyRanker", "inbox.drafts.memory.TeamMemory"]
# After every customer message a task runs the human-touch checks, computes the drafts and
# sends any automated message the inbox's policy allows (inbox/drafts/pipeline.py).
DRAFTS_ENABLED = env_bool("DRAFTS_ENABLED", True)
DRAFT_CONFIDENCE_THRESHOLD = float(env("DRAFT_CONFIDENCE_THRESHOLD", "0.3"))
# Optional language model (inbox/drafts/llm.py): any OpenAI-compatible chat endpoint, e.g.
# https://api.openai.com/v1 or a local server. Off while DRAFT_LLM_URL is empty.
DRAFT_LLM_URL = env("DRAFT_LLM_URL", "")
DRAFT_LLM_API_KEY = env("DRAFT_LLM_API_KEY", "")
DRAFT_LLM_MODEL = env("DRAFT_LLM_MODEL", "gpt-4o-mini")
DRAFT_LLM_TIMEOUT = float(env("DRAFT_LLM_TIMEOUT", "10"))
if DRAFT_LLM_URL:
    DRAFT_ENGINES.append("inbox.drafts.llm.LanguageModelEngine")
# Optional semantic ranking (inbox/drafts/semantic.py): `auto` turns it on when numpy,
# tokenizers and the model package are installed (docs/drafts.md); `on` insists.
DRAFT_SEMANTIC = env("DRAFT_SEMANTIC", "auto").lower()
DRAFT_SEMANTIC_MODEL = env("DRAFT_SEMANTIC_MODEL", "")
if DRAFT_SEMANTIC != "off":
    from inbox.drafts.semantic import available as _semantic_available
    from inbox.drafts.semantic import missing as _semantic_missing

    if _semantic_available(DRAFT_SEMANTIC_MODEL):
        DRAFT_ENGINES.append("inbox.drafts.semantic.SemanticRanker")
    elif DRAFT_SEMANTIC == "on":
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(_semantic_missing(DRAFT_SEMANTIC_MODEL))
# How often email inboxes with IMAP settings are polled (manage.py poll_imap, or the
# embedded shape's in-process poller).
IMAP_POLL_SECONDS = env_int("IMAP_POLL_SECONDS", 60)
# Messages one sender may hand our SMTP server per minute (then 451, try later).
SMTP_SENDER_RATE_PER_MINUTE = env_int("SMTP_SENDER_RATE_PER_MINUTE", 120)
# Whole request bodies (JSON, multipart with attachments); larger ones get 413 at once.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_MB", 40) * 1024 * 1024

# --- Locale ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # the agent app's JavaScript reads it for API calls
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    if (
        len(SECRET_KEY) < 50
        or len(set(SECRET_KEY)) < 5
        or SECRET_KEY.startswith("django-insecure-")
    ):
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Three lines per task (enqueued, running, done) for every customer message: half a
        # millisecond of each inbound write (bench/drafts.py). Failures still log.
        "django_tasks": {"level": env("TASK_LOG_LEVEL", "WARNING")},
    },
}
