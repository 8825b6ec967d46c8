"""Every SQL statement of the operations service, one module per table family."""
