"""Readings storage: raw (insert-only) and validated, written in bulk from the bus."""
