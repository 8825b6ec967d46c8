"""Scheduling: plan slots into runs, claim and execute runs, plan and dispatch requests."""
