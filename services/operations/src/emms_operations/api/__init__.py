"""HTTP routes of the operations service."""
