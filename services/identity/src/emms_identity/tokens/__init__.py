"""The OAuth2 token endpoint: grants, claims, refresh-token rotation, throttling, local verification."""
