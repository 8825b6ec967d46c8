"""Quantity control (R-4.4.1): usage limits per day / month per measuring and control device."""
