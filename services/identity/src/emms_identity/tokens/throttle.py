"""Rate limits of the token endpoint: per username, per client id and per client address.

A sliding one-minute window per process (:class:`emms_runtime.auth.quotas.RateLimiter`): with N
replicas an attacker gets N times the rate, which the account lockout bounds anyway; the limit is
there so one address cannot spend the service's CPU on argon2.
"""

from __future__ import annotations

from emms_identity.settings import ThrottleSettings
from emms_identity.tokens.errors import too_many
from emms_runtime.auth.quotas import RateLimiter


class Throttle:
    def __init__(self, settings: ThrottleSettings) -> None:
        self.settings = settings
        self._limiter = RateLimiter()

    def check(self, client_ip: str | None, *, username: str | None = None, client_id: str | None = None) -> None:
        """Count one attempt; 429 (``too_many_requests`` with ``Retry-After``) when over a limit."""
        checks = [(f"address:{client_ip}", self.settings.per_address, f"address {client_ip}")] if client_ip else []
        if username:
            checks.append((f"username:{username.lower()}", self.settings.per_username, f"username {username!r}"))
        if client_id:
            checks.append((f"client:{client_id}", self.settings.per_client, f"client {client_id!r}"))
        for key, limit, what in checks:
            wait = self._limiter.retry_after(key, limit)
            if wait:
                raise too_many(f"more than {limit} token requests a minute for {what}; retry in {wait} s", wait)
