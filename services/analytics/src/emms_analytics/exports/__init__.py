"""Exports of large results as CSV, streamed from the database with psycopg 3 (``COPY … TO STDOUT``)
without holding the result in memory (issue 16 item 8)."""
