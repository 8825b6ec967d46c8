"""Signing keys: Ed25519, encrypted at rest under the key-encryption key, rotated without downtime."""
