"""Authentication and authorisation of every HTTP API (R-4.6.2, R-4.3.3a).

Tokens are EdDSA JWTs issued by the identity service (``services/identity``) and verified here
against its JWKS (:mod:`.verify`); routes ask for one permission each (:func:`require`);
:mod:`.permissions` names the permissions, built-in roles and trust levels.
"""

from typing import Annotated

from emms_runtime.auth.dependencies import (
    PUBLIC,
    RouteAccess,
    annotate_openapi,
    require,
    routes_without_access,
    stepped_up,
)
from emms_runtime.auth.permissions import BUILTIN_ROLES, STEP_UP, STEP_UP_ACR, TRUST_LEVELS, Permission
from emms_runtime.auth.principal import Principal
from emms_runtime.auth.signing import DEV_KID, SigningKey, development_key, issue_token
from emms_runtime.auth.verify import TokenVerifier

PrincipalDep = Annotated[Principal, require(None, scope="self")]
"""Any caller with a valid token."""

ROLES = tuple(BUILTIN_ROLES)

__all__ = [
    "BUILTIN_ROLES", "DEV_KID", "PUBLIC", "ROLES", "STEP_UP", "STEP_UP_ACR", "TRUST_LEVELS", "Permission",
    "Principal", "PrincipalDep", "RouteAccess", "SigningKey", "TokenVerifier", "annotate_openapi",
    "development_key", "issue_token", "require", "routes_without_access", "stepped_up",
]
