"""The collector's HTTP API, one router per resource."""
