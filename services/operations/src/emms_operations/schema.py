"""The service's database schema name."""

SCHEMA = "operations"
