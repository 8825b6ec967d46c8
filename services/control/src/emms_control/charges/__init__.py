"""Charges: usage from validated register readings, priced by the tariff in force (pure, no I/O)."""
