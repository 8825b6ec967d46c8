"""Operations: faults located and ticketed, maintenance, availability, the duty log and operating status."""
