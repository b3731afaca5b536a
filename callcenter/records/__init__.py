"""Call records: searching the CDR (search.py). A call's raw leg documents are cdr.documents'."""
