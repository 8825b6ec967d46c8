"""The HTTP API: OAuth2 endpoints, discovery and JWKS, administration, self-service, audit."""
