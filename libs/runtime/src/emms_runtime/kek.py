"""Key-encryption keys (KEKs): the Fernet keys that seal secrets at rest.

Four secrets are kept sealed: the identity service's signing keys, the archive's and the FEP's
terminal passwords (one KEK shared by both), and the interface's webhook signing secrets. Each has
its setting (the key, or a file holding it: a mounted Kubernetes Secret, which wins) and the same
rules, kept here once:

* several comma-separated keys: the first seals, every one unseals (KEK rotation: give the new key
  first and the old one after it until every row is resealed);
* outside production, without a setting, a development key that is published in this repository
  (:func:`development_key`); production refuses it;
* every key must be a Fernet key (32 url-safe base64-encoded bytes).

Errors name the setting and the rule, never a key.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import SecretStr


def development_key(seed: str) -> str:
    """The published development KEK made from ``seed``: anyone can compute it, so development and tests only."""
    return base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode()


TERMINAL_PASSWORDS_DEVELOPMENT_KEY = development_key(
    "emms development terminal-password key-encryption key - published, never for production")
"""The terminal passwords' development KEK, the archive's (which seals) and the FEP's (which unseals)."""


def generate() -> str:
    """A new KEK (what ``emms-identity generate-kek`` and ``emms-interface generate-kek`` print)."""
    return Fernet.generate_key().decode()


def read_secret_file(path: Path, setting: str) -> str:
    """A mounted secret's text; ValueError naming the setting when it cannot be read."""
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"{setting}: cannot read {path}: {exc.strerror}") from None


def kek_keys(key: SecretStr | None, key_file: Path | None, *, environment: str, development: str, what: str,
             how: str, file_setting: str, required: bool = True) -> list[str]:
    """The KEKs of one secret, the sealing one first.

    ``development`` is used when neither ``key`` nor ``key_file`` is set outside production. With no key
    at all: ValueError when ``required``, else ``[]`` (the caller keeps no such secret until the Secret is
    mounted). ValueError too for a published key in production and for a key that is not a Fernet key.
    ``what`` names the sealed secret ("webhook secrets"), ``how`` says how to set the key."""
    if key_file is not None:
        text = read_secret_file(key_file, file_setting)
    elif key is not None:
        text = key.get_secret_value()
    else:
        text = "" if environment == "production" else development
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        if required:
            raise ValueError(f"no key-encryption key for {what}: {how}")
        return []
    if environment == "production" and development in keys:
        raise ValueError(f"production must not seal {what} with the published development key-encryption key: {how}")
    for k in keys:
        try:
            Fernet(k)
        except ValueError:
            raise ValueError(f"the key-encryption key for {what} must be Fernet keys (32 url-safe base64-encoded"
                             f" bytes), comma-separated: {how}") from None
    return keys


def serve_or_generate(argv: list[str] | None, *, prog: str, description: str, sealed: str,
                      serve_it: Callable[[], None]) -> None:
    """The command line of a service that keeps a KEK: ``serve`` (the default) runs ``serve_it``;
    ``generate-kek`` prints a new key for ``sealed`` (what it seals) and exits."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    commands.add_parser("generate-kek", help=f"print a new key-encryption key (Fernet) for the {sealed}")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "generate-kek":
        sys.stdout.write(generate() + "\n")
        return
    serve_it()
