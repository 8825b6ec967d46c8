"""Administration in levels (R-4.6.2): users, roles and API clients, and the rules that bound who
may manage whom (:mod:`.levels`)."""
