"""Intake: what arrives unasked — active reports, events, event polls, master data, the simulator manifest."""
