"""emms_analytics."""
