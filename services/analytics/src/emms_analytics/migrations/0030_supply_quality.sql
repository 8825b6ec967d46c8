-- Supply quality (R-4.5.5.1–4): the limits the analyses judge against, chosen through the API.
-- The figures themselves are computed when asked, from curve_value (both storage modes, same SQL).

-- Voltage levels: nominal phase voltage as the meter sees it (secondary side behind a PT) and the
-- allowed deviation in % (GB/T 12325: 220 V single-phase +7 / −10 %; three-phase ≤ 20 kV ±7 %).
CREATE TABLE IF NOT EXISTS {schema}.sq_voltage_level (
    level      text PRIMARY KEY,
    nominal_v  double precision NOT NULL CHECK (nominal_v > 0),
    upper_pct  double precision NOT NULL CHECK (upper_pct >= 0),
    lower_pct  double precision NOT NULL CHECK (lower_pct >= 0),
    updated_by text NOT NULL DEFAULT 'migration',
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO {schema}.sq_voltage_level (level, nominal_v, upper_pct, lower_pct) VALUES
    ('0.22kV', 220.0, 7.0, 10.0), ('0.38kV', 220.0, 7.0, 7.0), ('10kV', 57.7, 7.0, 7.0)
ON CONFLICT (level) DO NOTHING;

-- The voltage level of a metering point (a point without a row is of the service's default level).
CREATE TABLE IF NOT EXISTS {schema}.sq_point_level (
    metering_point_id text PRIMARY KEY,
    level             text NOT NULL REFERENCES {schema}.sq_voltage_level (level),
    updated_by        text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Power-factor limits of a customer, or of a customer category (a segment); a customer's own row
-- wins over its category's, the category's over the service default.
CREATE TABLE IF NOT EXISTS {schema}.sq_pf_limit (
    scope_kind text NOT NULL CHECK (scope_kind IN ('customer', 'category')),
    scope_id   text NOT NULL,
    pf_min     double precision NOT NULL CHECK (pf_min >= 0 AND pf_min <= 1),
    pf_max     double precision NOT NULL CHECK (pf_max >= 0 AND pf_max <= 1),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_kind, scope_id),
    CHECK (pf_min <= pf_max)
);

-- Pressure limits per utility (water, gas, heat) in MPa, as the meters report.
CREATE TABLE IF NOT EXISTS {schema}.sq_pressure_limit (
    utility    text PRIMARY KEY CHECK (utility IN ('water', 'gas', 'heat')),
    min_mpa    double precision NOT NULL,
    max_mpa    double precision NOT NULL,
    updated_by text NOT NULL DEFAULT 'migration',
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (min_mpa < max_mpa)
);
INSERT INTO {schema}.sq_pressure_limit (utility, min_mpa, max_mpa) VALUES
    ('water', 0.14, 0.45), ('gas', 0.0015, 0.0030), ('heat', 0.20, 0.60)
ON CONFLICT (utility) DO NOTHING;
