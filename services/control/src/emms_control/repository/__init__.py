"""All SQL of the control service."""
