"""HTTP API of the control service."""
