"""The password policy: every rule a candidate breaks, named, so a 422 tells the whole story at once.

The history rule (not one of the last N passwords) needs the stored hashes and is checked by the
caller with :meth:`emms_identity.passwords.hashing.Hasher.in_history`.
"""

from __future__ import annotations

import secrets
import string

from emms_identity.settings import PasswordPolicy

_CLASSES = (("lower-case letters", str.islower), ("upper-case letters", str.isupper),
            ("digits", str.isdigit))


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters ``password`` uses."""
    found = {name for ch in password for name, test in _CLASSES if test(ch)}
    other = any(not (ch.islower() or ch.isupper() or ch.isdigit()) for ch in password)
    return len(found) + int(other)


def violations(policy: PasswordPolicy, password: str, username: str | None = None) -> list[str]:
    """The rules ``password`` breaks (empty when it is acceptable), each in words."""
    broken = []
    if len(password) < policy.min_length:
        broken.append(f"shorter than {policy.min_length} characters")
    if len(password) > policy.max_length:
        broken.append(f"longer than {policy.max_length} characters")
    classes = character_classes(password)
    if classes < policy.min_classes:
        broken.append(f"uses {classes} of the character classes (lower case, upper case, digits, other);"
                      f" at least {policy.min_classes} are needed")
    if policy.forbid_username and username and len(username) >= 3 and username.lower() in password.lower():
        broken.append("contains the username")
    return broken


def generate(policy: PasswordPolicy) -> str:
    """A random password that satisfies ``policy`` (temporary passwords, the first admin's)."""
    alphabet = string.ascii_letters + string.digits + "-_.!#%+"
    length = max(policy.min_length, 20)
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if character_classes(candidate) == 4:
            return candidate
