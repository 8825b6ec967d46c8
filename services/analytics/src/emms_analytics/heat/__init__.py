"""Heat analyses (R-4.5.3.4): cumulative heat and flow by customer / floor / unit / building / community /
heat-exchange station, heated and stopped area and households, heat per m², customer counts by heat,
supply-temperature and thermal-power interval, same-period comparison.

Reads the archive's master data (``customer.node_id`` / ``heated_area_m2``, ``heating_season``, the
network-node tree) and its validated readings directly (:mod:`.repository`); the figures are pure
functions of those rows (:mod:`.figures`); routes in ``emms_analytics.api.routes_heat``.
"""
