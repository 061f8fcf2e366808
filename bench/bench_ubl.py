"""UBL writer micro-bench (no database): `ubl_xml` of synthetic `DocumentData` shaped like
bench-invoicing's customer invoices (10 session lines, one VAT group) plus every branch
(credit note, self-billing, exempt / reverse charge / zero groups, lines without energy,
negative lines, languages, JPY). `--golden FILE` writes (or with --check compares) the
SHA-256 of every variant's bytes, so a change to the writer is proven byte-identical;
bench/ubl_golden.json holds the digests of the writer as of 87dc443 (before issue 18's
changes).

    .venv/bin/python bench/bench_ubl.py [--docs 5000] [--golden bench/ubl_golden.json --check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _setup() -> None:
    import django

    django.setup()


SELLER = {
    "name": "A charging B.V.",
    "address": "Stationsplein 1",
    "postal_code": "1012 AB",
    "city": "Amsterdam",
    "country": "NL",
    "vat_number": "NL004495445B01",
    "company_id": "12345678",
    "email": "billing@a-charging.example",
    "iban": "NL91ABNA0417164300",
    "bic": "ABNANL2A",
}
BUYER = {
    "id": "C-42",
    "name": "Driver Dana & <Co>",
    "address": "Keizersgracht 100",
    "postal_code": "1015 AA",
    "city": "Amsterdam",
    "country": "NL",
    "email": "dana@example.com",
}


def variants() -> list[object]:
    from apps.invoicing.contracts import DocumentType
    from apps.invoicing.render.data import (
        TYPE_CODES,
        DocumentData,
        LineData,
        PartyData,
        VatGroupData,
    )

    tz = ZoneInfo("Europe/Amsterdam")
    start = datetime(2026, 10, 3, 21, 30, tzinfo=UTC)

    def line(
        i: int, net: str, kwh: str, cat: str = "S", rate: str = "21.00", **kw: object
    ) -> LineData:
        return LineData(
            position=i,
            section=str(kw.get("section", "PERIOD")),
            kind="SESSION",
            description=str(kw.get("description", "")),
            session_start=kw.get("start", start + timedelta(days=i)),  # type: ignore[arg-type]
            session_end=kw.get("end", start + timedelta(days=i, hours=3)),  # type: ignore[arg-type]
            location=str(kw.get("location", f"Stationsplein {i}, Amsterdam")),
            evse=str(kw.get("evse", f"NL*AAA*E{i}")),
            energy_kwh=Decimal(kwh),
            duration_hours=Decimal("1.5"),
            components=(("energy", Decimal(net)),),
            net=Decimal(net),
            vat_category=cat,
            vat_rate=Decimal(rate),
            exemption_reason=str(kw.get("reason", "")),
        )

    def doc(
        n: int,
        doc_type: DocumentType,
        lines: list[LineData],
        groups: list[VatGroupData],
        *,
        currency: str = "EUR",
        language: str = "en",
        seller: dict[str, str] = SELLER,
        buyer: dict[str, str] = BUYER,
        credits: str = "",
        iban: str = "NL91ABNA0417164300",
        bic: str = "ABNANL2A",
        period: bool = True,
        due: bool = True,
    ) -> DocumentData:
        net = sum((x.net for x in lines), Decimal(0))
        vat = sum((g.vat for g in groups), Decimal(0))
        return DocumentData(
            id=n,
            tenant_id=1,
            doc_type=doc_type,
            type_code=TYPE_CODES[doc_type],
            number=f"INV-2026-{n:06d}",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 16) if due else None,
            period_start=date(2026, 10, 1) if period else None,
            period_end=date(2026, 10, 31) if period else None,
            currency=currency,
            language=language,
            timezone=tz,
            seller=PartyData.of(seller),
            buyer=PartyData.of(buyer),
            lines=tuple(lines),
            groups=tuple(groups),
            net_total=net,
            vat_total=vat,
            total=net + vat,
            energy_kwh=sum((x.energy_kwh for x in lines), Decimal(0)),
            has_late_section=any(x.section == "LATE" for x in lines),
            credits_number=credits,
            credits_issue_date=date(2026, 10, 2) if credits else None,
            reason="Wrong tariff" if credits else "",
            payment_iban=iban,
            payment_bic=bic,
            email="dana@example.com",
        )

    def g(cat: str, rate: str, taxable: str, vat: str, reason: str = "") -> VatGroupData:
        return VatGroupData(cat, Decimal(rate), Decimal(taxable), Decimal(vat), reason)

    ten = [line(i, f"{3 + i}.{i:02d}45", f"{10 + i}.{i:03d}") for i in range(1, 11)]
    tnet = sum((x.net for x in ten), Decimal(0))
    typical = doc(1, DocumentType.CUSTOMER_INVOICE, ten, [g("S", "21.00", f"{tnet}", "10.0000")])
    out: list[object] = [typical]
    mixed = [
        line(1, "20.0000", "10"),
        line(2, "-4.1250", "3.5", description="Correction of session 7"),
        line(3, "7.7700", "0", cat="E", rate="0", reason="HCC_E home charging"),
        line(4, "5.0000", "2.25", cat="AE", rate="0"),
        line(5, "1.0000", "0", cat="Z", rate="0", location="", evse=""),
        line(6, "2.0000", "1", cat="O", rate="0", start=None, end=None, section="LATE"),
        line(7, "3.0000", "1.000001", description="x" * 250),
    ]
    groups = [
        g("AE", "0", "5.0000", "0", ""),
        g("E", "0", "7.7700", "0", "HCC_E home charging"),
        g("O", "0", "2.0000", "0"),
        g("S", "21.00", "18.8750", "3.9638"),
        g("Z", "0", "1.0000", "0"),
    ]
    for n, (dt, lang) in enumerate(
        [
            (DocumentType.CUSTOMER_INVOICE, "en"),
            (DocumentType.CUSTOMER_INVOICE, "nl"),
            (DocumentType.EMSP_INVOICE, "de"),
            (DocumentType.SELF_BILLING, "nl"),
            (DocumentType.SELF_BILLING, "en"),
        ],
        start=2,
    ):
        out.append(doc(n, dt, mixed, groups, language=lang))
    out.append(
        doc(
            10,
            DocumentType.CREDIT_NOTE,
            mixed,
            groups,
            credits="INV-2026-000001",
        )
    )
    out.append(doc(11, DocumentType.CREDIT_NOTE, ten[:2], groups[3:4]))
    out.append(doc(12, DocumentType.CUSTOMER_INVOICE, ten[:3], groups[3:4], currency="JPY"))
    out.append(
        doc(
            13,
            DocumentType.CUSTOMER_INVOICE,
            ten[:1],
            groups[3:4],
            seller={"legal_name": "Seller only"},
            buyer={},
            iban="US12345",
            bic="",
            period=False,
            due=False,
        )
    )
    out.append(doc(14, DocumentType.EMSP_INVOICE, ten, groups[3:4], iban="", bic=""))
    out.append(
        doc(
            15,
            DocumentType.CUSTOMER_INVOICE,
            ten[:2],
            groups[3:4],
            seller={"email": "only@mail", "country": "de"},
            buyer={"name": "B", "vat_number": "DE1", "company_id": "77", "country": "DE"},
        )
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=5000, help="typical documents timed")
    p.add_argument("--golden", default="")
    p.add_argument("--check", action="store_true")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    _setup()
    from apps.invoicing.render.ubl import ubl_check, ubl_xml

    docs = variants()
    digests = {}
    for d in docs:
        xml = ubl_xml(d)  # type: ignore[arg-type]
        ubl_check(xml)
        digests[d.number] = hashlib.sha256(xml).hexdigest()  # type: ignore[attr-defined]
    if args.golden:
        path = Path(args.golden)
        if args.check:
            want = json.loads(path.read_text())
            bad = sorted(k for k in want if want[k] != digests.get(k))
            print(json.dumps({"golden": str(path), "variants": len(want), "differ": bad}))
            if bad:
                sys.exit(1)
        else:
            path.write_text(json.dumps(digests, indent=1, sort_keys=True))
    typical = docs[0]
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx(
            "for _ in range(n): f(d)",
            {},
            {"n": args.docs, "f": ubl_xml, "d": typical},
            "/tmp/hinv/ubl.prof",
        )
        pstats.Stats("/tmp/hinv/ubl.prof").sort_stats("tottime").print_stats(25)
        return
    for _ in range(50):
        ubl_xml(typical)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.docs):
        ubl_xml(typical)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        json.dumps(
            {
                "bench": "ubl_writer",
                "documents": args.docs,
                "lines_per_document": len(typical.lines),  # type: ignore[attr-defined]
                "bytes": len(ubl_xml(typical)),  # type: ignore[arg-type]
                "seconds": round(wall, 3),
                "cpu_seconds": round(cpu, 3),
                "documents_per_cpu_second": round(args.docs / cpu, 1),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
