"""The concentrators' tariff in force in analytics (issue 16, R-4.5.3.1): kept from ``emms.terminal.tariff.v1``
(:mod:`.store`) and used to split electricity interval usage by the rate of each half hour (:mod:`.split`)."""
