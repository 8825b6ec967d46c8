"""Back-fill: gap index upkeep, back-fill passes, BackfillRequest intake."""
