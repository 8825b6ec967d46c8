"""Accounts per customer per utility: balance, payments, refunds, ledger, settlement on close."""
