"""``Tariff``: a validated OCPI tariff and its compiled form.

It sits above ``compiled.py`` (which reads only the tariff's parts from ``model.py``): a
``Tariff`` compiles itself once, on construction, so every ``Tariff`` can be priced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from billing.pricing.compiled import CompiledTariff
from billing.pricing.model import DisplayText, Price, TariffElement, TariffType


@dataclass(frozen=True, slots=True)
class Tariff:
    """A validated tariff in the OCPI 2.2.1 model (2.1.1 tariffs are converted to it).

    ``compiled`` is the per-dimension lookup structure built once, on construction; the
    pricing hot path uses it and never looks at the raw elements again.
    """

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    country_code: str | None = None
    party_id: str | None = None
    type: TariffType | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: dt.datetime | None = None
    end_date_time: dt.datetime | None = None
    energy_mix: Any = field(default=None, compare=False)
    last_updated: dt.datetime | None = None
    source_version: str = "2.2.1"
    # the CompiledTariff, built on construction when not given (``dataclasses.replace`` of a
    # tariff's terms passes ``compiled=None`` to have it rebuilt)
    compiled: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.compiled is not None:
            return
        compiled = CompiledTariff(
            tariff_id=self.id,
            currency=self.currency,
            elements=self.elements,
            min_price=self.min_price,
            max_price=self.max_price,
            start_date_time=self.start_date_time,
            end_date_time=self.end_date_time,
        )
        object.__setattr__(self, "compiled", compiled)
