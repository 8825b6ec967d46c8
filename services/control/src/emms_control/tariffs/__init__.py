"""Tariffs: time-of-use day tables, seasons, tiered blocks, versions and prices (pure, no I/O)."""
