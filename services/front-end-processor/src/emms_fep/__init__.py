"""emms_fep."""
