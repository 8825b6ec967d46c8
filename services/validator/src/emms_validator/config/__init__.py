"""Rule catalog (defaults with their sources) and per-scope resolution."""
