"""The identity service: users in levels, roles and permissions, API clients with trust levels,
the OAuth2 token endpoint, signing keys and JWKS, and the audit log of who did what (R-4.6.2)."""
