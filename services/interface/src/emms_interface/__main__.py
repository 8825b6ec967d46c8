"""``python -m emms_interface`` / ``emms-interface``: run the interface service alone (the default), or

    emms-interface generate-kek     print a new key-encryption key (a Fernet key) for the webhook
                                    secrets: EMMS_INTERFACE_WEBHOOKS__SECRET_KEY or a Kubernetes Secret
"""

from __future__ import annotations

from emms_interface.app import create_app
from emms_interface.settings import InterfaceSettings
from emms_runtime import kek, serve


def _serve() -> None:
    settings = InterfaceSettings()
    serve(create_app(settings), settings, service="interface")


def main(argv: list[str] | None = None) -> None:
    kek.serve_or_generate(argv, prog="emms-interface", description="The EMMS system interface.",
                          sealed="webhook secrets", serve_it=_serve)


if __name__ == "__main__":
    main()
