"""The FEP's HTTP API: online terminals, one terminal's session and counters, FEP-wide figures."""
