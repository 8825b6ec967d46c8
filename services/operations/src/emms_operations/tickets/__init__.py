"""Fault tickets: the standard procedure (states and transitions), opening, escalation, maintenance."""
