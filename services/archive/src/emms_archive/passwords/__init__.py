"""Terminal passwords: each terminal's 1376.1 PW, set, imported and rotated, sealed at rest and on the bus."""
