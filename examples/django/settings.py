# Django settings for the example: ONE database entry, pointing at pgroute. Which table lives on which
# server (what an app used to write as DATABASE_ROUTERS) is in pgroute's routers: examples/pgroute.yaml.
import os

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("PGROUTE_HOST", "127.0.0.1"),
        "PORT": os.environ.get("PGROUTE_PORT", "6432"),
        "NAME": "app",
        "USER": "app",
        "PASSWORD": os.environ.get("APP_PASSWORD", "app"),
        # Transaction pooling: a server-side cursor must not outlive its transaction's server connection.
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
}
INSTALLED_APPS = ["shop"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
SECRET_KEY = "example-only-not-secret"
