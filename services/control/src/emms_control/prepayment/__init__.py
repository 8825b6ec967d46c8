"""Prepayment (R-4.5.2) in three modes: master-, terminal- and meter-executed."""
