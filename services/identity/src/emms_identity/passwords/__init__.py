"""Passwords: argon2id hashing (:mod:`.hashing`) and the password policy (:mod:`.policy`)."""
