"""The portal's writes leave exactly one audit entry naming the signed-in user, written by
the service that makes the change (issue 15 item 3); the audit page names an API key too."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from apps.common.contracts import Actor
from apps.integrations import api as integrations_api
from apps.parties.models import AuditEntry
from tests.portal.world import signed_in_client


def _location_form(loc: Any) -> dict[str, str]:
    return {
        "name": "Renamed car park",
        "address": loc.address,
        "city": loc.city,
        "postal_code": loc.postal_code,
        "state": "",
        "country": loc.country,
        "latitude": str(loc.latitude),
        "longitude": str(loc.longitude),
        "time_zone": loc.time_zone,
        "parking_type": "",
        "twentyfourseven": "1",
    }


WRITES = [
    (
        "emsp_admin",
        lambda a: (reverse("portal:token_block", args=["alpha", a.token.pk]), {"valid": "0"}),
        "token.block",
        "token",
    ),
    (
        "cpo_admin",
        lambda a: (
            reverse("portal:location_edit", args=["alpha", a.location.pk]),
            _location_form(a.location),
        ),
        "location.update",
        "location",
    ),
    (
        "cpo_admin",
        lambda a: (
            reverse("portal:evse_save", args=["alpha", a.location.pk]),
            {
                "uid": "alpha-E2",
                "status": "AVAILABLE",
                "c0-id": "1",
                "c0-standard": "IEC_62196_T2",
                "c0-format": "SOCKET",
                "c0-power_type": "AC_3_PHASE",
                "c0-max_voltage": "230",
                "c0-max_amperage": "32",
            },
        ),
        "evse.create",
        "evse",
    ),
    (
        "cpo_admin",
        lambda a: (
            reverse("portal:tariff_code_new", args=["alpha"]),
            {"code": "NEW-CODE", "tariff_id": str(a.tariff.pk)},
        ),
        "tariff_code.create",
        "tariff_code",
    ),
    (
        "finance",
        lambda a: (reverse("portal:flag_action", args=["alpha", a.flag.pk, "dismiss"]), {}),
        "flag.dismiss",
        "review_flag",
    ),
]


@pytest.mark.parametrize(
    ("role", "request_of", "action", "object_type"), WRITES, ids=[w[2] for w in WRITES]
)
def test_a_portal_write_leaves_exactly_one_audit_entry_naming_the_user(
    world: Any, role: str, request_of: Any, action: str, object_type: str
) -> None:
    a, _ = world
    user = a.users[role]
    url, form = request_of(a)
    response = signed_in_client(user).post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    (entry,) = AuditEntry.objects.all()
    assert (entry.tenant_id, entry.action, entry.object_type) == (
        a.operator.pk,
        action,
        object_type,
    )
    assert (entry.actor_id, entry.actor_email, entry.actor_api_key_id) == (
        user.pk,
        user.email,
        None,
    )


def test_the_audit_page_names_an_api_key_that_made_a_change(world: Any) -> None:
    a, _ = world
    ref, key = integrations_api.api_key_create(
        tenant_id=a.operator.pk,
        name="CRM sync",
        scopes=["*:write", "*:read"],
        actor=Actor.system("tests"),
    )
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.post(f"/api/v1/tokens/{a.token.pk}/block").status_code == 200
    page = signed_in_client(a.users["platform_admin"]).get(reverse("portal:audit", args=["alpha"]))
    assert f"API key {ref.key_id} (CRM sync)" in page.content.decode()
