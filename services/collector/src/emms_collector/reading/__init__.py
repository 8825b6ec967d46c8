"""Reading: items, how each is read on the wire, answers → canonical readings, one reading pass."""
