"""Reading an import body into rows and a batch: CSV and JSON, row errors, duplicates."""

from __future__ import annotations

import pytest

from emms_archive.masterdata.import_batch import BadImport, build_batch, parse_body
from emms_archive.masterdata.sync import parse_sync


def test_csv_rows_drop_empty_cells_and_flag_extra_ones() -> None:
    rows = parse_body(b"\xef\xbb\xbfid,name,address\nA,Alpha,\nB,Beta,x,surplus\n", "text/csv")
    assert rows[0] == {"id": "A", "name": "Alpha"}
    assert rows[1]["__extra__"] == "surplus"
    batch = build_batch("companies", rows)
    assert [(e.row, e.message) for e in batch.errors] == [(2, "more cells than header columns: 'surplus'")]


def test_json_list_or_rows_object() -> None:
    assert parse_body(b'[{"id": "A", "name": null}]', "application/json") == [{"id": "A"}]
    assert parse_body(b'{"rows": [{"id": "A"}]}', "") == [{"id": "A"}]


@pytest.mark.parametrize(("body", "reason"), [(b"", "empty"), (b"[1, 2]", "list of objects"),
                                              (b"{bad", "not valid JSON")])
def test_unreadable_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(BadImport, match=reason):
        parse_body(body, "application/json")


def test_row_errors_name_row_and_field() -> None:
    batch = build_batch("regions", [{"id": "R1", "name": "x"}, {"id": "R2", "name": "y", "level": "high"}])
    assert [(e.row, e.field) for e in batch.errors] == [(2, "level")]


def test_same_key_twice_must_carry_the_same_values() -> None:
    rows = [{"id": "A", "name": "Alpha"}, {"id": "A", "name": "Alpha"}, {"id": "A", "name": "Other"}]
    batch = build_batch("companies", rows)
    assert len(batch.of("company")) == 1
    assert [(e.row, e.key) for e in batch.errors] == [(3, "A")]
    assert "also in row 1" in batch.errors[0].message and "name" in batch.errors[0].message


def test_unknown_kind() -> None:
    with pytest.raises(BadImport, match="unknown import kind"):
        build_batch("unicorns", [])


def test_sync_bodies() -> None:
    batch, removals = parse_sync("service-areas", {"removals": ["G/R/water"]})
    assert batch.rows == 1 and [r[1] for r in removals] == [("G", "R", "water")]
    with pytest.raises(BadImport, match="3 part"):
        parse_sync("service-areas", {"removals": ["G/R"]})
    with pytest.raises(BadImport):
        parse_sync("customers", {"upserts": "nope"})
    with pytest.raises(BadImport):
        parse_sync("customers", {"delete": []})
