"""Public functions of the charging app."""

from __future__ import annotations

from apps.charging import services

cdr_credit = services.cdr_credit
