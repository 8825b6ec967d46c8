"""Estimation of missing values: linear, historical profile, previous like-day."""
