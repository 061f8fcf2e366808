"""Invoices, credit notes, numbering series, documents, finance export (not built yet)."""
