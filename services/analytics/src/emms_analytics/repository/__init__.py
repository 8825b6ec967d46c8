"""SQL of the analytics service."""
