"""`{{ amount|money:currency }}`: an amount as the portal shows it (`portal.views.money`)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from portal.views import money as display

register = template.Library()


@register.filter
def money(amount: Decimal | str | int | None, currency: str) -> str:
    return display.money(amount, currency)
