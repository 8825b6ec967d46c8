"""Local infrastructure: the Tansu Kafka-compatible broker, PostgreSQL, and the dev stack."""
