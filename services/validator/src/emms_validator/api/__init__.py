"""HTTP API of the validator."""
