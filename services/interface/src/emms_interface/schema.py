"""The database schema this service owns; every SQL statement names tables through it."""

from __future__ import annotations

SCHEMA = "interface"
