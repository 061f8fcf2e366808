"""Django settings. Everything that differs between machines comes from the environment
through `config.env`; see the configuration table in README.md."""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from config.env import (
    BASE_DIR,
    ConfigurationError,
    data_dir,
    env_bool,
    env_int,
    env_list,
    env_str,
)

DATA_DIR = data_dir()
DEBUG = env_bool("DEBUG", False)
PRODUCTION = env_bool("PRODUCTION", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment; in the embedded default, one generated per machine and
    kept in DATA_DIR (never a key written in the source)."""
    key = env_str("SECRET_KEY", "")
    if key:
        return key
    if PRODUCTION:
        raise ConfigurationError("SECRET_KEY must be set when PRODUCTION=1")
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Keys that encrypt secrets the platform must read back (webhook signing secrets), comma-
# separated: the first encrypts, every one decrypts (rotation: put the new key first, run
# `manage.py reencrypt_secrets`, then drop the old one). Empty: one key derived from
# SECRET_KEY (the embedded default). See docs/adr/0010-secrets-at-rest.md.
ENCRYPTION_KEYS = env_list("ENCRYPTION_KEYS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_htmx",
    "servestatic",
    "djmoney",
    "sequences",  # django-sequences: gapless document numbers (ADR 0035)
    "apps.common",
    "apps.parties",
    "apps.locations",
    "apps.tokens",
    "apps.tariffs",
    "apps.customers",
    "apps.charging",
    "apps.rating",
    "apps.invoicing",
    "apps.integrations",
    "apps.devices",
    "apps.roaming",
    "demo",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# Default: an SQLite file in DATA_DIR (the embedded quick start). CI and production set
# DATABASE_URL=postgres://... . SQLite gets WAL and IMMEDIATE transactions so that the web
# process and the worker processes can write to the same file.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database too: worker processes in the end-to-end
    # tests open the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Under ASGI (uvicorn) Django runs each request's sync code in its own thread, and database
# connections are per thread: without a pool every request opens a new PostgreSQL
# connection. DATABASE_POOL=1 uses Django's psycopg pool instead (CONN_MAX_AGE must be 0).
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DATABASE_POOL", False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10),
        "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "parties.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Invoicing documents are written in en / nl / de / fr (templates/invoicing): the project's
# own catalogues, .po and compiled .mo committed (ADR 0038).
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- E-mail (invoicing delivery, ADR 0038) -----------------------------------------------------
# Default: the console backend (mails are printed by the worker). Production sets
# EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the SMTP settings below.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "invoices@localhost")

STATIC_URL = "static/"
STATIC_ROOT = env_str("STATIC_ROOT", str(DATA_DIR / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

SESSION_COOKIE_HTTPONLY = True
# --- Portal sign-in (docs/portal.md) ----------------------------------------------------------
LOGIN_URL = "portal:sign_in"
# A portal session ends after this long without a request, and in any case this long after
# sign-in; the cookie lives as long as the absolute limit.
PORTAL_SESSION_IDLE_SECONDS = env_int("PORTAL_SESSION_IDLE_SECONDS", 1800)
PORTAL_SESSION_MAX_SECONDS = env_int("PORTAL_SESSION_MAX_SECONDS", 12 * 3600)
SESSION_COOKIE_AGE = PORTAL_SESSION_MAX_SECONDS
SESSION_COOKIE_SAMESITE = "Lax"
# Throttling per (user name, client address): each failed attempt (password or second factor)
# doubles the wait before the next one, starting at PORTAL_LOCKOUT_DELAY_SECONDS; this many
# failures, each within the window of the previous one, lock the pair for the window.
PORTAL_LOCKOUT_FAILURES = env_int("PORTAL_LOCKOUT_FAILURES", 5)
PORTAL_LOCKOUT_SECONDS = env_int("PORTAL_LOCKOUT_SECONDS", 900)
PORTAL_LOCKOUT_DELAY_SECONDS = env_int("PORTAL_LOCKOUT_DELAY_SECONDS", 1)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "EV back office")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Cache (API rate limits) -----------------------------------------------------------------
# Rate-limit counters must be shared by every web process: Redis when REDIS_URL is set,
# otherwise a per-process memory cache (the one-machine embedded default).
CACHE_URL = env_str("CACHE_URL", env_str("REDIS_URL", ""))
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- REST API (restapi/) ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["restapi.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["restapi.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["restapi.auth.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("API_RATE_LIMIT", "1200/min")},
    "DEFAULT_RENDERER_CLASSES": ["restapi.json.DecimalJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["restapi.json.DecimalJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "restapi.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "restapi.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": False,
    "DATETIME_FORMAT": "iso-8601",
}
# The ASGI fast path of PUT /api/v1/tokens/{cc}/{party}/{uid} (restapi.fast, ADR 0016).
API_FAST_PATHS = env_bool("API_FAST_PATHS", True)
# The ASGI fast path of the OCPI CDR receive (roaming.ocpi.fast, ADR 0042); 0 turns it off.
OCPI_FAST_PATHS = env_bool("OCPI_FAST_PATHS", True)
SPECTACULAR_SETTINGS = {
    "TITLE": "EV charging back office: provisioning API",
    "DESCRIPTION": (
        "REST API v1 for eMSP CRMs and CPO back ends. Objects follow OCPI 2.2.1 shapes where "
        "OCPI defines one. Authenticate with `Authorization: Bearer ek_...`. "
        "The integration guide is docs/api.md in the repository."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TokenTypeEnum": "apps.tokens.contracts.TokenType",
        "WhitelistEnum": "apps.tokens.contracts.WhitelistType",
        "SessionStatusEnum": "apps.charging.contracts.SessionStatus",
        "EvseStatusEnum": "apps.locations.contracts.EvseStatus",
        "DeliveryStatusEnum": "apps.integrations.contracts.DeliveryStatus",
        "CommandTypeEnum": "apps.locations.contracts.CommandType",
        # apps.customers.contracts.CustomerKind (by value: the dotted path does not resolve the
        # collision with ConnectionEventKind on fields named "kind")
        "CustomerKindEnum": ["person", "company"],
        "ConnectionEventKindEnum": "apps.locations.contracts.ConnectionEventKind",
        # apps.rating.contracts.PayeeKind (by value, like CustomerKind)
        "PayeeKindEnum": ["HOME", "WORKPLACE", "SITE_HOST"],
        # The languages of invoicing documents (apps.invoicing.models.LANGUAGES).
        "DocumentLanguageEnum": ["en", "nl", "de", "fr"],
        # apps.invoicing.contracts.GlRole (issue 18, finance; by value, like CustomerKind)
        "GlRoleEnum": ["REVENUE", "COST"],
        "RoleEnum": "apps.parties.contracts.PartyRole",  # the partners' role, named as before
    },
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "DISABLE_ERRORS_AND_WARNINGS": False,
    # The five webhook events with their payloads, as `x-webhooks` (restapi/webhook_schema.py).
    "WEBHOOKS": [
        f"restapi.webhook_schema.{name}"
        for name in (
            "SESSION_STARTED",
            "SESSION_ENDED",
            "CDR_CREATED",
            "STATION_STATUS_CHANGED",
            "TOKEN_AUTHORIZED",
        )
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "restapi.webhook_schema.webhooks_as_extension",
        "restapi.schema.strict_request_bodies",
    ],
}

# --- Outbound HTTP (apps.common.outbound, ADR 0017) --------------------------------------------
# Webhook deliveries (and later OCPI calls) go only to public addresses. Loopback may be let
# through for tests and `make run` (both set it); never in production.
OUTBOUND_HTTP_ALLOW_LOOPBACK = env_bool("OUTBOUND_HTTP_ALLOW_LOOPBACK", False)
if PRODUCTION and OUTBOUND_HTTP_ALLOW_LOOPBACK:
    raise ConfigurationError("OUTBOUND_HTTP_ALLOW_LOOPBACK must not be set when PRODUCTION=1")

# --- OCPI roaming (apps.roaming, roaming.ocpi, ADR 0040) -------------------------------------
# The public base URL partners reach this platform's OCPI endpoints at (versions URL:
# <OCPI_BASE_URL>/ocpi/versions). Default: the web process's own address.
OCPI_BASE_URL = env_str("OCPI_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Request and response bodies in the exchange log are kept this many days, then blanked.
OCPI_EXCHANGE_BODY_DAYS = env_int("OCPI_EXCHANGE_BODY_DAYS", 14)
# Page size we serve at most (X-Limit) and ask for.
OCPI_PAGE_LIMIT = env_int("OCPI_PAGE_LIMIT", 100)
# Real-time authorization (CPO role, apps.roaming.services.authorize): how long an Authorize
# from a station may wait for the eMSP's answer (milliseconds; the connect and the answer each
# get this much), and how many eMSPs an unknown uid is asked at most (in parallel).
OCPI_AUTHORIZE_TIMEOUT_MS = env_int("OCPI_AUTHORIZE_TIMEOUT_MS", 3000)
OCPI_AUTHORIZE_MAX_PARTNERS = env_int("OCPI_AUTHORIZE_MAX_PARTNERS", 8)
# CPO role: at most one Session PATCH per running session per connection per this many
# seconds (apps.roaming.services.cpo_push; the live-cost window already limits the events).
OCPI_SESSION_PATCH_SECONDS = env_int("OCPI_SESSION_PATCH_SECONDS", 60)

# Finance export files (apps.invoicing.services.finance) are stored in the database in chunks
# of at most this many bytes (ExportFileChunk), written and read one at a time (ADR 0039).
EXPORT_FILE_CHUNK_BYTES = env_int("EXPORT_FILE_CHUNK_BYTES", 8 * 1024 * 1024)

# --- Redis and Celery ---------------------------------------------------------------------
# REDIS_URL is the production default for the broker and the result backend. Without it the
# broker is kombu's filesystem transport in DATA_DIR: real worker processes, no server.
REDIS_URL = env_str("REDIS_URL", "")
_broker_dir = DATA_DIR / "broker"
_results_dir = DATA_DIR / "celery-results"
# `localhost` names the (only) host of the filesystem transport: without it kombu warns at
# every start that it assumes one.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost//")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL or f"file://{_results_dir}")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (_broker_dir / folder).mkdir(parents=True, exist_ok=True)
    _results_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

# --- Remote commands and connectivity (apps.locations, csms_gateway; docs/gateway.md) --------
# Commands travel through Redis to the gateway node that holds the station's websocket (ADR
# 0011). Without a Redis URL (the embedded default) they go to the one gateway node through a
# local unix socket (ADR 0018). Both empty: no relay, commands answer ServiceUnavailable.
RELAY_REDIS_URL = env_str("RELAY_REDIS_URL", REDIS_URL)
RELAY_KEY_PREFIX = env_str("RELAY_KEY_PREFIX", "ocpp")
RELAY_SOCKET = env_str("RELAY_SOCKET", str(DATA_DIR / "relay.sock"))
STATION_COMMAND_TIMEOUT = env_int("STATION_COMMAND_TIMEOUT", 30)  # seconds, per command
# A station is "unstable" when it connected more than this many times within the window.
STATION_UNSTABLE_CONNECTS = env_int("STATION_UNSTABLE_CONNECTS", 5)
STATION_UNSTABLE_WINDOW_SECONDS = env_int("STATION_UNSTABLE_WINDOW_SECONDS", 3600)

# --- Station certificates (apps.devices.ca; docs/gateway.md "Certificates", ADR 0014) --------
# A CA configured here signs the stations' CSRs (SignCertificate) and the certificate goes
# back as CertificateSigned; without one the requests stay PENDING for an operator. The CA
# certificate (first PEM block; intermediates may follow) and its key, as files or as PEM.
CSMS_CA_CERT_FILE = env_str("CSMS_CA_CERT_FILE", "")
CSMS_CA_KEY_FILE = env_str("CSMS_CA_KEY_FILE", "")
CSMS_CA_CERT_PEM = env_str("CSMS_CA_CERT_PEM", "")
CSMS_CA_KEY_PEM = env_str("CSMS_CA_KEY_PEM", "")
CSMS_CA_KEY_PASSWORD = env_str("CSMS_CA_KEY_PASSWORD", "")
CSMS_CERTIFICATE_VALIDITY_DAYS = env_int("CSMS_CERTIFICATE_VALIDITY_DAYS", 365)
# The organizationName a station's CSR must carry (the CSO); empty: any non-empty one.
CSMS_CERTIFICATE_ORGANIZATION = env_str("CSMS_CERTIFICATE_ORGANIZATION", "")

# Redis: a message a worker took but never acknowledged (the worker was killed) goes back to
# its queue after this many seconds (acks late: ADR 0031). Longer than any task may run.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
    }

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "apps.charging.*": {"queue": "charging"},
    "billing.*": {"queue": "billing"},
    "roaming.*": {"queue": "roaming"},
    # The billing engines (apps.rating, ADR 0031): their own queue, so a rating backlog never
    # holds up the charging worker.
    "rating.*": {"queue": "billing"},
    # Billing runs, document files and deliveries (ADR 0035).
    "invoicing.*": {"queue": "billing"},
}
# A task is acknowledged after it ran, and redelivered when its worker dies: tasks are
# idempotent (ARCHITECTURE, data rules), so redelivery is safe and nothing is lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Periodic tasks. django-celery-beat's DatabaseScheduler copies these into its tables.
# Live cost of an active session: priced at most once per this many seconds (the newest meter
# value inside the window is priced when it ends).
CHARGING_LIVE_COST_SECONDS = env_int("CHARGING_LIVE_COST_SECONDS", 30)
CELERY_BEAT_SCHEDULE = {
    "charging-sweep-unprocessed": {
        "task": "apps.charging.sweep_unprocessed",
        "schedule": env_int("CHARGING_SWEEP_SECONDS", 60),
    },
    # Live costs held back by their window (apps.charging.services.processing), batched.
    "charging-sweep-live-costs": {
        "task": "apps.charging.sweep_live_costs",
        "schedule": CHARGING_LIVE_COST_SECONDS,
    },
    # Idempotency records are kept 24 h (docs/adr/0008-rest-api.md).
    "idempotency-purge": {"task": "apps.integrations.idempotency_purge", "schedule": 6 * 3600},
    # The webhook outbox relay: deliveries committed but never queued (a process died between
    # commit and publish) or whose retry message was lost.
    "webhook-relay": {"task": "apps.integrations.webhook_relay", "schedule": 60},
    # Rating (ADR 0031): flagged CDRs whose retry is due, and CDRs no engine has looked at
    # (written while rating was off or its message was lost; late CDRs).
    "rating-retry-flags": {"task": "rating.retry_flags", "schedule": 3600},
    # Billing runs (ADR 0035): every hour, start the scheduled runs whose period and grace
    # period have ended (one per tenant x frequency x period, however often it runs).
    "invoicing-schedule-runs": {"task": "invoicing.schedule_runs", "schedule": 3600},
    "roaming-purge-exchange-bodies": {"task": "roaming.purge_exchange_bodies", "schedule": 86400},
    "roaming-pushes-due": {"task": "roaming.pushes_due", "schedule": 60},
    # eMSP pull as catch-up (apps.roaming.services.emsp_pull): incremental every 4 hours,
    # a full resync nightly at 02:30 UTC.
    "roaming-emsp-pull": {"task": "roaming.emsp_pull_all", "schedule": 4 * 3600},
    "roaming-emsp-resync": {
        "task": "roaming.emsp_pull_all",
        "schedule": crontab(hour=2, minute=30),
        "kwargs": {"full": True},
    },
    "roaming-cpo-locations-sync": {"task": "roaming.cpo_locations_sync", "schedule": 60},
    "rating-sweep-unrated": {
        "task": "rating.sweep_unrated",
        "schedule": env_int("RATING_SWEEP_SECONDS", 600),
    },
}
# --- Rating (apps.rating; docs/billing.md "Engines, rated lines and VAT", ADR 0031) ----------
# RATING_ENABLED false: CDRs are stored without queueing their rating (the sweep rates them
# once it is back on); the CDR pipeline benchmark compares both.
RATING_ENABLED = env_bool("RATING_ENABLED", True)
# A flagged CDR is retried every RATING_RETRY_INTERVAL_HOURS until RATING_RETRY_DAYS after it
# was first flagged; then it is DROPPED (listed, never invoiced).
RATING_RETRY_INTERVAL_HOURS = env_int("RATING_RETRY_INTERVAL_HOURS", 24)
RATING_RETRY_DAYS = env_int("RATING_RETRY_DAYS", 90)
# CDRs per `rating.rate_cdrs` message and per transaction.
RATING_BATCH_SIZE = env_int("RATING_BATCH_SIZE", 500)
# The sweep looks at CDRs written in the last RATING_SWEEP_HOURS, older than a grace period
# (RATING_SWEEP_GRACE_SECONDS: the queued rating of a fresh CDR has not run yet).
RATING_SWEEP_HOURS = env_int("RATING_SWEEP_HOURS", 72)
RATING_SWEEP_GRACE_SECONDS = env_int("RATING_SWEEP_GRACE_SECONDS", 300)
PORTAL_TIME_ZONE = env_str("PORTAL_TIME_ZONE", "UTC")
PORTAL_DASHBOARD_CACHE_SECONDS = env_int("PORTAL_DASHBOARD_CACHE_SECONDS", 60)
