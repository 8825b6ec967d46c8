"""The control service's PostgreSQL schema."""

SCHEMA = "control"
