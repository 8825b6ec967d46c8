"""The export's COPY statement: asyncpg ``$n`` placeholders become psycopg's named ones (``$10`` is not
``$1`` followed by 0), a literal ``%`` survives psycopg's client-side merge, the values keep their order."""

from __future__ import annotations

from emms_analytics.exports.database import copy_statement


def test_placeholders_are_named_and_percent_is_escaped() -> None:
    args = [f"v{i}" for i in range(1, 11)]
    statement, params = copy_statement("SELECT $1, $10, $2 WHERE x LIKE 'a%' AND y = $1", args)
    assert statement == ("COPY (SELECT %(p1)s, %(p10)s, %(p2)s WHERE x LIKE 'a%%' AND y = %(p1)s) TO STDOUT"
                         " WITH (FORMAT csv, HEADER true)")
    assert params == {f"p{i}": f"v{i}" for i in range(1, 11)}
