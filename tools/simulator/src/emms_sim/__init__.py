"""emms_sim."""
