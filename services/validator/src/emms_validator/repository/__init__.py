"""SQL of the validator schema, one module per aggregate."""
