"""Backup and restore (R-4.3.3b): system level (the whole database, pg_dump / pg_restore, or
COPY of every archive table when the tools are missing) and application level (one or more
companies' data and / or a time range, as CSV per table), with row checksums and verify.
Command line: ``python -m emms_archive.backup --help``."""
