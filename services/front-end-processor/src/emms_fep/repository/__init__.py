"""SQL of the FEP's schema (``fep``): sessions, replicas, request claims, daily traffic."""
