-- Key customers chosen by rule, kept for Grafana (R-4.5.4.2): each rule's customers as the service last
-- evaluated it (every `key_customer_refresh_s`, and at once when a rule is created or changed), with the rank,
-- the usage and the period the ranking read. The API evaluates rules when asked (`/key-customers?at=`); this
-- table is what a dashboard can read without running the ranking itself. A removed rule takes its rows along.
CREATE TABLE IF NOT EXISTS {schema}.key_customer_chosen (
    rule_id     text             NOT NULL REFERENCES {schema}.key_customer_rule (rule_id) ON DELETE CASCADE,
    customer_id text             NOT NULL,
    rank        integer          NOT NULL,
    usage       double precision NOT NULL,
    period_from timestamptz      NOT NULL,
    period_to   timestamptz      NOT NULL,
    chosen_at   timestamptz      NOT NULL,
    PRIMARY KEY (rule_id, customer_id)
);

-- The rule-chosen key customers, with the owner columns the dashboards' scope filters use (no names).
CREATE OR REPLACE VIEW reporting.analytics_key_customer_by_rule AS
SELECT ch.rule_id, ch.rank, ch.customer_id, c.company_id, c.region_id, c.utility, c.category, c.industry,
       ch.usage, ch.period_from, ch.period_to, ch.chosen_at
FROM {schema}.key_customer_chosen ch
LEFT JOIN {schema}.customer c ON c.customer_id = ch.customer_id;

GRANT SELECT ON reporting.analytics_key_customer_by_rule TO emms_reporting;
