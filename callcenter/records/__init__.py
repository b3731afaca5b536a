"""Call records: searching the CDR (search.py) and exporting a search as CSV (export.py). A
leg's raw CDR document is cdr.documents'."""
