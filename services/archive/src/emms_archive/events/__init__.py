"""Events (terminal / meter records) and anomalies (VEE findings), each with its class."""
