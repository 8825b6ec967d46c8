-- Heat master data (R-4.5.3.4): where a customer is in the network (for heat the floor, unit or building
-- node under a heat-exchange station), its heated area, and heating on / off per heating season.
ALTER TABLE {schema}.customer
    ADD COLUMN node_id        text REFERENCES {schema}.network_node (id),
    ADD COLUMN heated_area_m2 double precision CHECK (heated_area_m2 >= 0);
CREATE INDEX customer_node ON {schema}.customer (node_id);

-- A customer without a row for a season is heated; a row says whether it is (heating = false: stopped).
CREATE TABLE {schema}.heating_season (
    customer_id text    NOT NULL REFERENCES {schema}.customer (id),
    season      text    NOT NULL CHECK (season ~ '^[0-9]{4}-[0-9]{4}$'),
    heating     boolean NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, season)
);
CREATE INDEX heating_season_season ON {schema}.heating_season (season);
