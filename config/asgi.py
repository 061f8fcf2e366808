import gc
import os
from typing import cast

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

# Imported once Django is set up: the fast paths of the token upsert and CDR list (REST API)
# and of the OCPI CDR receive in front of Django.
from restapi.fast import App, FastPaths  # noqa: E402
from roaming.ocpi.fast import OcpiFastPaths  # noqa: E402

# django-stubs types ASGIHandler's `send` as taking any Mapping, `App` as taking a dict: the
# same callable at run time (the server's send), hence the cast.
application = FastPaths(cast(App, OcpiFastPaths(cast(App, django_application))))

# Everything loaded so far (Django, the apps, URL patterns, schemas) lives as long as the
# process: move it out of the garbage collector's generations, so a full collection walks
# only what requests allocated (a full pass over the whole heap stopped a worker for
# ~200 ms now and then: the CDR page's p99; docs/benchmarks.md, REST API).
gc.freeze()
