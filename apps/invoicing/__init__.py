"""Invoices, credit notes, numbering series, documents, finance export (issues to come)."""
