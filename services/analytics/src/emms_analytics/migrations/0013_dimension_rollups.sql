-- Usage pre-aggregated by the dimensions that are asked most (both storage modes; plain tables kept
-- by the service, emms_analytics.repository.dimensions): per customer × utility × item × local month,
-- and per region × company × utility × item × local month (the sum of the customer rows). They hold
-- exactly what the monthly query over usage_monthly answers for the same keys (the meter's multiplier,
-- the meter's period on the point, the point's current customer); the customer's region and company
-- are copied onto its rows so that a move subtracts them from where they were counted.
-- Plain PostgreSQL: rewritten in the transaction that recomputes the monthly buckets; TimescaleDB: by
-- the refresher after the continuous aggregates (from dimension_dirty); both: by the master-data
-- consumer for the customers a change concerns.
CREATE TABLE IF NOT EXISTS {schema}.usage_customer_monthly (
    customer_id     text             NOT NULL,
    utility         text             NOT NULL,
    item            text             NOT NULL,
    bucket          timestamptz      NOT NULL,
    region_id       text             NOT NULL,  -- '' when the customer has none (or is not known yet)
    company_id      text             NOT NULL,
    usage           double precision NOT NULL,
    intervals       bigint           NOT NULL,
    estimated       bigint           NOT NULL,
    metering_points bigint           NOT NULL,
    PRIMARY KEY (customer_id, bucket, utility, item)
);
-- a region's (or the whole fleet's) customers for a month: the ranking
CREATE INDEX IF NOT EXISTS usage_customer_monthly_item_bucket
    ON {schema}.usage_customer_monthly (item, bucket, region_id);

CREATE TABLE IF NOT EXISTS {schema}.usage_region_monthly (
    region_id       text             NOT NULL,
    company_id      text             NOT NULL,
    utility         text             NOT NULL,
    item            text             NOT NULL,
    bucket          timestamptz      NOT NULL,
    usage           double precision NOT NULL,
    intervals       bigint           NOT NULL,
    estimated       bigint           NOT NULL,
    metering_points bigint           NOT NULL,
    PRIMARY KEY (region_id, company_id, utility, item, bucket)
);

-- TimescaleDB: what the refresher must rewrite after refreshing the aggregates (the aggregates hold
-- the readings only once refreshed): a (meter, local month) whose monthly usage the readings consumer
-- changed, or a customer (every month) a master-data change concerns. Unused on plain PostgreSQL.
CREATE TABLE IF NOT EXISTS {schema}.dimension_dirty (
    id          bigserial   PRIMARY KEY,
    meter_id    text,
    customer_id text,
    bucket      timestamptz,
    CHECK ((meter_id IS NOT NULL AND bucket IS NOT NULL) OR customer_id IS NOT NULL)
);
