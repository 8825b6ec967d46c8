"""The system interface (R-4.7) and the customers' value-added services (R-4.5.7): ``docs/integration.md``."""
