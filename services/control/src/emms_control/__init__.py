"""emms_control."""
