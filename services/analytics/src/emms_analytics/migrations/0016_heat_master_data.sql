-- Heat master data in the copy (R-4.5.3.4, archive migration 0011): a heat customer's heated area and heating
-- on / off per heating season ('2026-2027': the winter starting in 2026; a customer without a row for a season
-- is heated), kept from emms.masterdata.change.v1 — and the reporting views the heat dashboard reads them from.
ALTER TABLE {schema}.customer ADD COLUMN IF NOT EXISTS heated_area_m2 double precision;

CREATE TABLE IF NOT EXISTS {schema}.heating_season (
    customer_id text    NOT NULL,
    season      text    NOT NULL,
    heating     boolean NOT NULL,
    PRIMARY KEY (customer_id, season)
);

-- Heat customers with their place in the network and heated area (no names).
CREATE OR REPLACE VIEW reporting.analytics_heat_customer AS
SELECT c.customer_id, c.company_id, c.region_id, c.utility, c.node_id, c.heated_area_m2
FROM {schema}.customer c
WHERE c.utility = 'heat';

CREATE OR REPLACE VIEW reporting.analytics_heating_season AS
SELECT customer_id, season, heating FROM {schema}.heating_season;

GRANT SELECT ON reporting.analytics_heat_customer, reporting.analytics_heating_season TO emms_reporting;
