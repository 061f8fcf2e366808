"""OCPI eMSP role over the REST API: commands sent to a CPO partner and the reconciliation
report of the CDRs it sent (scopes `commands`, `cdrs`)."""

from __future__ import annotations

from rest_framework import serializers

COMMANDS = [
    "START_SESSION",
    "STOP_SESSION",
    "RESERVE_NOW",
    "CANCEL_RESERVATION",
    "UNLOCK_CONNECTOR",
]


class RoamingCommandIn(serializers.Serializer):
    command = serializers.ChoiceField(choices=COMMANDS)
    token_id = serializers.IntegerField(required=False, help_text="one of our eMSP tokens")
    location_id = serializers.CharField(max_length=36, required=False)
    evse_uid = serializers.CharField(max_length=36, required=False)
    connector_id = serializers.CharField(max_length=36, required=False)
    session_id = serializers.CharField(max_length=36, required=False)
    reservation_id = serializers.CharField(max_length=36, required=False)
    expiry_date = serializers.DateTimeField(required=False)
    authorization_reference = serializers.CharField(max_length=36, required=False)


class RoamingCommandOut(serializers.Serializer):
    uid = serializers.CharField()
    connection_id = serializers.IntegerField()
    command = serializers.CharField()
    request = serializers.JSONField()
    response = serializers.CharField(
        help_text="the partner's CommandResponse result, or NO_ANSWER / REJECTED"
    )
    result = serializers.CharField(help_text="the CommandResult posted later; empty until then")
    result_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    message = serializers.CharField()


class ReconciliationQuery(serializers.Serializer):
    period_from = serializers.DateTimeField(
        required=False,
        help_text="received at or after (inclusive); default: 30 days before period_to",
    )
    period_to = serializers.DateTimeField(
        required=False, help_text="received before (exclusive); default: now"
    )


class _Totals(serializers.Serializer):
    currency = serializers.CharField()
    cdrs = serializers.IntegerField()
    theirs_excl_vat = serializers.DecimalField(max_digits=16, decimal_places=4)
    ours_excl_vat = serializers.DecimalField(max_digits=16, decimal_places=4)
    difference_excl_vat = serializers.DecimalField(max_digits=16, decimal_places=4)


class _Differing(serializers.Serializer):
    pk = serializers.IntegerField()
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    cdr_id = serializers.CharField()
    currency = serializers.CharField()
    theirs_excl_vat = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True)
    ours_excl_vat = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True)
    difference_excl_vat = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())


class ReconciliationOut(serializers.Serializer):
    connection_id = serializers.IntegerField()
    period_from = serializers.DateTimeField()
    period_to = serializers.DateTimeField()
    cdrs = serializers.IntegerField()
    repriced = serializers.IntegerField()
    matching = serializers.IntegerField()
    differing = serializers.IntegerField()
    not_repriced = serializers.IntegerField()
    flagged = serializers.IntegerField()
    totals = _Totals(many=True)
    differing_cdrs = _Differing(many=True)
