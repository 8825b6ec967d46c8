"""Clock: deviation, delay-compensated terminal sync, meter clock events."""
