"""Fault detection: conditions found on the bus, in the polls and in the stored history, located and ticketed."""
