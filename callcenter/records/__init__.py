"""Call records: what the database keeps of past calls, read for people: searching the CDR
(search.py), exporting a search as CSV (export.py), a call's page (story.py, timeline.py), its
recordings and their retention (recordings.py). A leg's raw CDR document is cdr.documents'."""
