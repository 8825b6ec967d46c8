"""Master data (archives): companies, regions, customers, metering points, meters, terminals,
network topology and groups; validation, batch import, incremental sync and meter periods."""
