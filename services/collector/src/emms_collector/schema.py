"""The collector's PostgreSQL schema name (one place, so SQL and migrations agree)."""

SCHEMA = "collector"
