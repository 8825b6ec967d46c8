"""emms_validator."""
