"""emms_archive."""
