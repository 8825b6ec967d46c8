"""Pure VEE rules, one module per family; no I/O, functions over plain values."""
