from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django_otp.admin import OTPAdminSite

from config.health import healthz


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the hashed name exists only once collectstatic has run.
    return HttpResponsePermanentRedirect(static("portal/favicon.svg"))


# The admin asks for the second factor too (django-otp): a password alone never signs in.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("", RedirectView.as_view(url="/portal/", permanent=False)),
    # Browsers ask every site for /favicon.ico (the admin and the API docs name none): answer
    # with the portal's icon instead of a 404 logged for each of them.
    path("favicon.ico", favicon),
    path("portal/", include("portal.urls")),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("restapi.urls")),
]

handler404 = "restapi.problems.not_found_view"
