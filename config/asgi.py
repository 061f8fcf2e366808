import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

# Imported once Django is set up: the fast path of the token upsert in front of Django.
from restapi.fast import FastPaths  # noqa: E402

application = FastPaths(django_application)
