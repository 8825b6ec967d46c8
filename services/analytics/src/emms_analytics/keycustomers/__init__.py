"""Key customers (R-4.5.4.2): chosen by hand (an operator marks one, with a reason) or by rule (the
top N by usage over the last days within regions / companies / categories), and one answer per
customer with its latest values, usage curve, data quality, working condition and anomalies.

``repository`` holds the SQL of the list, the rules and the audit; ``rules`` evaluates the rules
over the rollups; ``detail`` builds the one answer; ``anomalies`` keeps the validator's findings
from ``emms.anomaly.v1``.
"""
