-- Key customers (R-4.5.4.2): the capacity a customer has contracted with the utility (electricity: kVA of
-- its transformers / the agreed demand), a criterion for choosing key customers by rule.
ALTER TABLE {schema}.customer
    ADD COLUMN IF NOT EXISTS contracted_capacity_kva double precision CHECK (contracted_capacity_kva >= 0);
