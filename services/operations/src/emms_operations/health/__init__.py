"""The master's health: its services polled, the FEP's channels scraped, the broker's consumer lag."""
