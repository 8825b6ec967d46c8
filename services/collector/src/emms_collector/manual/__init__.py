"""Manual reads (召测) as jobs."""
