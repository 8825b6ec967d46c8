"""HTTP routes of the archive service (``/api/v1/...``)."""
