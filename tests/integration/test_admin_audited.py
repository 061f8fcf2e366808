"""Staff edits in the Django admin are audited like any other change (apps.parties
`AuditedAdmin`): the signed-in user, the changed fields before and after, creates and deletes,
inline rows too, in the tenant's audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import AdminSite
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from apps.parties.models import AuditEntry
from apps.tariffs.admin import TariffCodeAdmin
from apps.tariffs.models import TariffCode
from apps.tokens.admin import TokenAdmin
from apps.tokens.models import Token
from tests.factories import TariffFactory, TokenFactory, UserFactory

pytestmark = pytest.mark.django_db


def _request() -> Any:
    request = RequestFactory().post("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def _save(model_admin: Any, request: Any, obj: Any, data: dict[str, Any]) -> Any:
    form_class = model_admin.get_form(request, obj if obj.pk else None)
    form = form_class(data, instance=obj if obj.pk else None)
    assert form.is_valid(), form.errors
    new = form.save(commit=False)
    model_admin.save_model(request, new, form, change=obj.pk is not None)
    return new


def test_a_changed_token_is_audited_with_the_staff_user_and_the_fields() -> None:
    token = TokenFactory(valid=True)
    request = _request()
    model_admin = TokenAdmin(Token, AdminSite())
    form_class = model_admin.get_form(request, token)
    data = {k: v for k, v in form_class(instance=token).initial.items() if v is not None}
    data["valid"] = False
    _save(model_admin, request, token, data)

    (entry,) = AuditEntry.objects.filter(object_type="token")
    assert (entry.tenant_id, entry.actor_id, entry.action, entry.object_id) == (
        token.tenant_id,
        request.user.pk,
        "token.admin_update",
        str(token.pk),
    )
    assert (entry.before, entry.after) == ({"valid": True}, {"valid": False})

    # Saving without a change writes nothing.
    _save(model_admin, request, Token.objects.get(pk=token.pk), {**data})
    assert AuditEntry.objects.filter(object_type="token").count() == 1


def test_created_and_deleted_rows_are_audited_and_a_delete_keeps_the_row_in_the_entry() -> None:
    tariff = TariffFactory()
    request = _request()
    model_admin = TariffCodeAdmin(TariffCode, AdminSite())
    code = _save(
        model_admin,
        request,
        TariffCode(),
        {"tenant": tariff.tenant_id, "code": "AC-30", "tariff": tariff.pk, "description": "x"},
    )
    model_admin.delete_model(request, TariffCode.objects.get(pk=code.pk))

    created, deleted = AuditEntry.objects.filter(object_type="tariffcode").order_by("id")
    assert (created.action, created.after["code"], created.before) == (
        "tariffcode.admin_create",
        "AC-30",
        None,
    )
    assert (deleted.action, deleted.before["code"], deleted.after) == (
        "tariffcode.admin_delete",
        "AC-30",
        None,
    )
    assert {created.tenant_id, deleted.tenant_id} == {tariff.tenant_id}
    assert not TariffCode.objects.filter(pk=code.pk).exists()
