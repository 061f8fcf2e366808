"""The tariffs a session may reference: the session's own tariff and the others it switches to.

OCPI ChargingPeriod.tariff_id names the tariff of each period (PRICING.md point 11, tariff
switch). Tariff ids are OCPI ``CiString``: matched case-insensitively. A period without a
tariff_id is priced with the session's (default) tariff; an id that is not known is an error
naming the period (docs/pricing.md, "Tariff switch").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from billing.pricing.model import ChargingPeriod, InputIssue, PricingInputError
from billing.pricing.tariff import Tariff

# What callers may pass as the other tariffs: a mapping tariff_id -> Tariff (the keys are
# the ids the periods use) or tariffs keyed by their own ``id``.
Tariffs = Mapping[str, Tariff] | Iterable[Tariff]


class TariffCatalogue:
    """The default tariff and the other tariffs, by case-folded id."""

    __slots__ = ("default", "_by_key")

    def __init__(self, default: Tariff, tariffs: Tariffs | None = None) -> None:
        self.default = default
        self._by_key: dict[str, tuple[str, Tariff]] = {default.id.casefold(): (default.id, default)}
        if tariffs is None:
            return
        issues: list[InputIssue] = []
        if isinstance(tariffs, Mapping):
            items = [(k, t, f"tariffs[{k!r}]") for k, t in tariffs.items()]
        else:
            items = [(getattr(t, "id", None), t, f"tariffs[{i}]") for i, t in enumerate(tariffs)]
        for key, tariff, path in items:
            if not isinstance(tariff, Tariff):
                issues.append(InputIssue(path, f"expected a Tariff, got {type(tariff).__name__}"))
                continue
            if not isinstance(key, str) or not key:
                issues.append(InputIssue(path, "a tariff id must be a non-empty string"))
                continue
            folded = key.casefold()
            known = self._by_key.get(folded)
            if known is not None and known[1] is not tariff and known[1] != tariff:
                issues.append(InputIssue(path, f"two different tariffs have the id {known[0]!r}"))
                continue
            if known is None:
                self._by_key[folded] = (key, tariff)
        if issues:
            raise PricingInputError(issues)

    def get(self, tariff_id: str | None) -> Tariff | None:
        """The tariff of a period's ``tariff_id`` (None: the default), or None if unknown."""
        found = self.find(tariff_id)
        return None if found is None else found[1]

    def find(self, tariff_id: str | None) -> tuple[str, Tariff] | None:
        """(the id as the catalogue spells it, the tariff) of a period's ``tariff_id``
        (None: the default), or None if unknown."""
        if tariff_id is None:
            return self.default.id, self.default
        return self._by_key.get(tariff_id.casefold())

    def ids(self) -> list[str]:
        return [key for key, _t in self._by_key.values()]

    def unknown(self, tariff_id: str) -> str:
        known = ", ".join(repr(i) for i in self.ids())
        return f"unknown tariff {tariff_id!r}: the known tariffs are {known}"

    def resolve(
        self, periods: Sequence[ChargingPeriod], path: str = "$.charging_periods"
    ) -> tuple[tuple[str, Tariff], ...]:
        """(id, tariff) of each period, the id spelt as in the catalogue (the default
        tariff's own id, a mapping's key, a listed tariff's id); unknown ids and a mix of
        currencies are errors."""
        issues: list[InputIssue] = []
        out: list[tuple[str, Tariff]] = []
        first: tuple[int, Tariff] | None = None
        for i, p in enumerate(periods):
            found = self.find(p.tariff_id)
            if found is None:
                assert p.tariff_id is not None
                issues.append(InputIssue(f"{path}[{i}].tariff_id", self.unknown(p.tariff_id)))
                continue
            tariff = found[1]
            if first is None:
                first = (i, tariff)
            elif tariff.currency != first[1].currency:
                issues.append(
                    InputIssue(
                        f"{path}[{i}].tariff_id",
                        f"tariff {tariff.id!r} is in {tariff.currency}, the tariff "
                        f"{first[1].id!r} of period {first[0]} in {first[1].currency}: "
                        "one session has one currency",
                    )
                )
            out.append(found)
        if issues:
            raise PricingInputError(issues)
        return tuple(out)
