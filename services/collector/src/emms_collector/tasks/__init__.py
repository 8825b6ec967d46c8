"""Tasks: the model and its validation, task types, periods, templates by meter type."""
