"""``python -m emms_identity`` / ``emms-identity``: run the identity service alone (the default), or

    emms-identity generate-kek     print a new key-encryption key (a Fernet key) for
                                   EMMS_IDENTITY_KEY_ENCRYPTION_KEY or a Kubernetes Secret
"""

from __future__ import annotations

import argparse
import sys

from cryptography.fernet import Fernet

from emms_identity.app import create_app
from emms_identity.settings import IdentitySettings
from emms_runtime import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="emms-identity", description="The EMMS identity service.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    commands.add_parser("generate-kek", help="print a new key-encryption key (Fernet) for the signing keys")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "generate-kek":
        sys.stdout.write(Fernet.generate_key().decode() + "\n")
        return
    settings = IdentitySettings()
    serve(create_app(settings), settings, service="identity")


if __name__ == "__main__":
    main()
