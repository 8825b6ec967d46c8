"""Terminal management: remote configuration, drift, first connect, measurement-point tables, resets."""
