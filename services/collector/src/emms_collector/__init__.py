"""emms_collector."""
