"""Every Prometheus metric of the control service, in one place (low-cardinality labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CHARGES = Counter("emms_control_charges_total", "Charges computed from validated readings")
CHARGED = Counter("emms_control_charged_amount_total", "Amount charged (currency units)")
USAGE_SKIPPED = Counter("emms_control_usage_skipped_total",
                        "Readings or usages not charged, by reason (held, register_fell, unpriced …)", ["reason"])
PAYMENTS = Counter("emms_control_payments_total", "Payment requests by outcome (recorded, repeated)", ["outcome"])
REFUNDS = Counter("emms_control_refunds_total", "Refund requests by outcome (recorded, repeated)", ["outcome"])
BATCH_SECONDS = Histogram("emms_control_charge_batch_seconds", "Charge one consumer batch of validated readings",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
