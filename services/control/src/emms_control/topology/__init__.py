"""Control's device topology, kept from the archive's master-data changes."""
