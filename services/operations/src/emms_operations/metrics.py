"""Prometheus metrics of the operations service (``emms_operations_*``): the alert rules and dashboards'
source for faults, tickets, the fleet's online state and the master's services."""

from __future__ import annotations

from prometheus_client import Gauge

SERVICE_UP = Gauge("emms_operations_service_up", "1 when the service answered /readyz ready at the last poll",
                   ["service"])
TERMINALS = Gauge("emms_operations_terminals", "Terminals by state: installed, in_operation, online, offline,"
                  " never_seen", ["state"])
FAULTS_ACTIVE = Gauge("emms_operations_faults_active", "Active faults", ["kind", "level", "severity"])
TICKETS_OPEN = Gauge("emms_operations_tickets_open", "Tickets not resolved or closed", ["severity"])
TICKETS_OVERDUE = Gauge("emms_operations_tickets_overdue", "Open tickets past their due time", ["severity"])
CONSUMER_LAG = Gauge("emms_operations_consumer_lag_messages", "Messages not yet handled by a consumer group",
                     ["group"])
AVAILABILITY = Gauge("emms_operations_availability_ratio", "Availability of the month so far (docs/operations.md):"
                     " subject master, fleet (all terminals' up / measured time) or a service", ["subject"])
