"""SQL of the collector, one module per table family."""
