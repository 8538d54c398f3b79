"""A small IMS of its own for the tests: one app (`ims`) that records rolls and releases them
when their cool-down is over, behind a Bearer token."""

from datetime import timedelta

SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
USE_TZ = True
TIME_ZONE = "Europe/Riga"

INSTALLED_APPS = ["httpat_django", "ims"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "testproject.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"  # the live server serves static files below it

# httpat: the site as the tick reaches it (a test points it at its live server), and the header
# every schedulable path sends. `${IMS_TOKEN}` is read from the tick's environment when it sends.
HTTPAT_BASE_URL = "http://ims.test"
HTTPAT_HEADERS = {"Authorization": "Bearer ${IMS_TOKEN}"}

# The IMS's own: the token its release view expects, the key its seal view verifies httpat's
# signature with (the tick's ${IMS_SIGNING_SECRET}), and how long a roll cools.
IMS_TOKEN = "tests-only-token"
IMS_SIGNING_SECRET = "whsec_dGVzdHMtb25seSBzaWduaW5nIGtleSwgbm90IGEgc2VjcmV0"
IMS_COOL_DOWN = timedelta(hours=36)
