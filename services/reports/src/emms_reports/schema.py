"""The database schema of the reports service."""

SCHEMA = "reports"
