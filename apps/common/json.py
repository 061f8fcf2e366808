"""JSON for database columns that hold money: Decimals are written as JSON numbers, exactly
(the standard library's encoder would refuse them, and converting to float would round)."""

from __future__ import annotations

from typing import Any

import simplejson
from django.core.serializers.json import DjangoJSONEncoder


class DecimalJSONEncoder(DjangoJSONEncoder):
    """For `JSONField(encoder=...)`: Decimal -> JSON number with every digit kept."""

    def encode(self, o: Any) -> str:
        return simplejson.dumps(o, use_decimal=True, default=self.default)
