"""Django settings. The database comes from data_platform.settings (DATABASE_URL or embedded server)."""
import os

from django.core.exceptions import ImproperlyConfigured

from data_platform import settings as dp

_db = dp.url_parts(dp.database_url())

BASE_DIR = dp.ROOT
# Development = the embedded PostgreSQL (DATABASE_URL unset or pointing at it: tests, `make admin`, the demo) or
# an explicit DP_ENV=development. Anywhere else a missing DJANGO_SECRET_KEY stops the admin from starting.
DEVELOPMENT = os.environ.get("DP_ENV") == "development" or (
    _db["host"] in ("127.0.0.1", "localhost") and int(_db["port"]) == dp.embedded_port())
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEVELOPMENT:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set: it is required outside development "
                                   "(development = the embedded database, or DP_ENV=development)")
    SECRET_KEY = "dev-only-" + "not-for-production"
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "data_platform.webapp.acteurs",
    "data_platform.webapp.pipeline",
    "data_platform.webapp.suggestions",
    "data_platform.webapp.api",  # POST /api/match (data_platform.match)
    "data_platform.webapp.labelling",
    "axes",  # login throttling (django-axes)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "data_platform.webapp.middleware.RejectNulMiddleware",  # %00 in a parameter: 400, not a 500 from psycopg
    "whitenoise.middleware.WhiteNoiseMiddleware",  # serves the admin's static files, also under gunicorn
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "data_platform.webapp.reports.framing.FrameableByAirflowMiddleware",  # the Airflow UI's DAG run tabs only
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

# login throttling: after AXES_FAILURE_LIMIT failed logins for one username from one address, that pair is
# locked out for AXES_COOLOFF_TIME (hours; a success resets the count). The attempts live in axes' tables.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("DP_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "data_platform.webapp.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [dp.ROOT / "data_platform" / "webapp" / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
WSGI_APPLICATION = "data_platform.webapp.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db["dbname"],
        "USER": _db["user"],
        "PASSWORD": _db["password"],
        "HOST": _db["host"],
        "PORT": _db["port"],
    }
}

LANGUAGE_CODE = "fr-fr"
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = dp.LOCAL_DIR / "static"
WHITENOISE_USE_FINDERS = True  # no collectstatic needed locally
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# DP_SECURE_COOKIES=1 (on in docker-compose.yml): the admin is served over HTTPS (behind a TLS proxy that sets
# X-Forwarded-Proto): Secure cookies, HSTS for a year, plain HTTP redirected. Off for local development.
SECURE_COOKIES = os.environ.get("DP_SECURE_COOKIES", "0") == "1"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = SECURE_COOKIES
SECURE_HSTS_SECONDS = 31_536_000 if SECURE_COOKIES else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = SECURE_COOKIES
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_COOKIES else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"

# every 500 logged with its traceback on stderr (Django's default logs django.request only when DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain",
                            "level": "ERROR"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": True}},
}
