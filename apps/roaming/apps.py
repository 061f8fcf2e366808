from django.apps import AppConfig


class RoamingConfig(AppConfig):
    """OCPI connections with roaming partners and what was exchanged with them (issue 19).
    The protocol interface (HTTP views under /ocpi/) is the outer `roaming.ocpi` package;
    this app owns the data and its one write path."""

    name = "apps.roaming"
    label = "roaming"
