"""A finalized document's files (area "files", ADR 0038): the UBL 2.1 e-invoice (`ubl`), the
CII e-invoice (`cii`) and the Factur-X PDF for people with the CII inside (`pdf`). Each takes
the `DocumentData` that `data.document_data` reads once from the database, and returns bytes.

The seller / buyer snapshots on a document are read by these keys (all optional strings):
`name` (or `legal_name`), `address`, `postal_code`, `city`, `country` (ISO 3166 alpha-2),
`vat_number`, `company_id`, `email`, `iban`, `bic`, `id` (the buyer's reference).
"""
