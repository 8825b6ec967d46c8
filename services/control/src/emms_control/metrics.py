"""Every Prometheus metric of the control service, in one place (low-cardinality labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CHARGES = Counter("emms_control_charges_total", "Charges computed from validated readings")
CHARGED = Counter("emms_control_charged_amount_total", "Amount charged (currency units)")
USAGE_SKIPPED = Counter("emms_control_usage_skipped_total",
                        "Readings or usages not charged, by reason (held, register_fell, unpriced …)", ["reason"])
PAYMENTS = Counter("emms_control_payments_total", "Payment requests by outcome (recorded, repeated)", ["outcome"])
REFUNDS = Counter("emms_control_refunds_total", "Refund requests by outcome (recorded, repeated)", ["outcome"])
BATCH_SECONDS = Histogram("emms_control_charge_batch_seconds", "Charge one consumer batch of validated readings",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
PREPAY_TRANSITIONS = Counter("emms_control_prepay_transitions_total",
                             "Master-mode prepayment state changes (normal / alarm / tripped)", ["before", "after"])
PREPAY_PURCHASES = Counter("emms_control_prepay_purchases_total",
                           "Purchases sent to a device (terminal / meter mode)", ["mode"])
QUANTITY_EXCEEDED = Counter("emms_control_quantity_exceeded_total",
                            "Usage limits exceeded (once per device, period and period key)", ["period", "action"])
AUTO_ACTIONS = Counter("emms_control_auto_actions_total",
                       "Actions of prepayment and quantity control handed to the command path", ["origin", "outcome"])

# ---- remote control (commands, jobs) ----------------------------------------------------------------
COMMANDS = Counter("emms_control_commands_total",
                   "Device final results of commands, by action and outcome (verified, confirmed, failed, cancelled)",
                   ["action", "outcome"])
RETRIES = Counter("emms_control_command_retries_total", "Command requests resent, by reason", ["reason"])
TIME_TO_CONFIRM = Histogram("emms_control_command_confirm_seconds", "From sending a command to the device's confirm",
                            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60))
TIME_TO_VERIFY = Histogram("emms_control_command_verify_seconds",
                           "From the first send of a command to its state verified by reading back",
                           buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120))
JOBS_RUNNING = Gauge("emms_control_jobs_running", "Command jobs running")
DEVICES_PENDING = Gauge("emms_control_devices_pending", "Devices of open jobs without a final result")
