"""``python -m emms_identity`` / ``emms-identity``: run the identity service alone (the default), or

    emms-identity generate-kek     print a new key-encryption key (a Fernet key) for
                                   EMMS_IDENTITY_KEY_ENCRYPTION_KEY or a Kubernetes Secret
"""

from __future__ import annotations

from emms_identity.app import create_app
from emms_identity.settings import IdentitySettings
from emms_runtime import kek, serve


def _serve() -> None:
    settings = IdentitySettings()
    serve(create_app(settings), settings, service="identity")


def main(argv: list[str] | None = None) -> None:
    kek.serve_or_generate(argv, prog="emms-identity", description="The EMMS identity service.",
                          sealed="signing keys", serve_it=_serve)


if __name__ == "__main__":
    main()
