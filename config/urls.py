from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django_otp.admin import OTPAdminSite

from config.errors import favicon
from config.health import healthz

# The admin asks for the second factor too (django-otp): a password alone never signs in.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/", permanent=False)),
    path("portal/", include("portal.urls")),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("restapi.urls")),
    path("ocpi/", include("roaming.ocpi.urls")),
]

handler404 = "config.errors.not_found"
