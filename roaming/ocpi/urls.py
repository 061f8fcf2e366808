"""/ocpi/: one versions URL for the platform (the token says which tenant and connection),
version details per version, then the modules per role:

    /ocpi/versions                          versions (any token of a connection, A included)
    /ocpi/<version>/                        version details
    /ocpi/<version>/credentials             credentials
    /ocpi/<version>/cpo/<module>/...        our CPO interfaces (locations, tariffs, sessions,
                                            cdrs as SENDER; tokens, commands as RECEIVER)
    /ocpi/<version>/emsp/<module>/...       our eMSP interfaces (locations, tariffs, sessions,
                                            cdrs as RECEIVER; tokens as SENDER; commands
                                            result callbacks)
    /ocpi/<version>/hubclientinfo           HubClientInfo receiver

Each area keeps its routes in its own views module (`urlpatterns` there)."""

from __future__ import annotations

from django.urls import include, path

from roaming.ocpi.views import config, cpo, cpo_receiver, emsp

app_name = "ocpi"

urlpatterns = [
    path("", include(config.urlpatterns)),
    path("<str:version>/cpo/", include(cpo.urlpatterns + cpo_receiver.urlpatterns)),
    path("<str:version>/emsp/", include(emsp.urlpatterns)),
]
