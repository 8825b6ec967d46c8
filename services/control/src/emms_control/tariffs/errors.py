"""The one error of the tariff rules."""

from __future__ import annotations


class TariffError(ValueError):
    """A tariff definition that cannot be used, with the reason (the offending interval, date or block)."""
