from __future__ import annotations

from django.urls import reverse

from tests.portal.world import signed_in_client


def test_every_page_renders_for_a_platform_admin(world) -> None:
    a, _ = world
    c = signed_in_client(a.users["platform_admin"])
    t = a.operator.slug
    pages = [
        reverse("portal:dashboard", args=[t]),
        reverse("portal:stations", args=[t]),
        reverse("portal:station", args=[t, a.station.pk]),
        reverse("portal:locations", args=[t]),
        reverse("portal:location", args=[t, a.location.pk]),
        reverse("portal:location_new", args=[t]),
        reverse("portal:location_edit", args=[t, a.location.pk]),
        reverse("portal:sessions", args=[t]),
        reverse("portal:session", args=[t, a.session.pk]),
        reverse("portal:cdrs", args=[t]),
        reverse("portal:cdr", args=[t, a.cdr.pk]),
        reverse("portal:flags", args=[t]),
        reverse("portal:tariffs", args=[t]),
        reverse("portal:tariff", args=[t, a.tariff.pk]),
        reverse("portal:tariff_new", args=[t]),
        reverse("portal:tariff_version_new", args=[t, a.tariff.pk]),
        reverse("portal:tariff_import", args=[t]),
        reverse("portal:tokens", args=[t]),
        reverse("portal:token", args=[t, a.token.pk]),
        reverse("portal:customers", args=[t]),
        reverse("portal:customer", args=[t, a.customer.pk]),
        reverse("portal:audit", args=[t]),
        reverse("portal:account"),
    ]
    for url in pages:
        r = c.get(url)
        assert r.status_code == 200, (url, r.status_code, r.content[:500])
