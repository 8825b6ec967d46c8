"""Query and data service: readings, usage, the joint multi-utility view, events, CSV export."""
