"""Call records: what the database keeps of past calls, read for people (a call's page, its
recordings, their retention)."""
