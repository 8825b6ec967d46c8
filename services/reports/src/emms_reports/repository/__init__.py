"""Every SQL statement of the reports service, one module per table family."""
