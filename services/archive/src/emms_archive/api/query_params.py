"""Query-string forms of the reading and selection conditions (lists as repeated parameters:
``?customers=C1&customers=C2``), turned into the same models the JSON bodies use."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from emms_archive.api.deps import parse_model
from emms_archive.query.filters import ReadingQuery, Selection

ListParam = Annotated[list[str] | None, Query()]


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def selection_params(customers: ListParam = None, parties: ListParam = None, metering_points: ListParam = None,
                     meters: ListParam = None, regions: ListParam = None, companies: ListParam = None,
                     groups: ListParam = None, utilities: ListParam = None,
                     categories: ListParam = None) -> dict[str, Any]:
    return _present(customers=customers, parties=parties, metering_points=metering_points, meters=meters,
                    regions=regions, companies=companies, groups=groups, utilities=utilities, categories=categories)


def reading_query_params(
    start: Annotated[str | None, Query(alias="from", description="UTC start, inclusive (ISO 8601 with offset)")] = None,
    end: Annotated[str | None, Query(alias="to", description="UTC end, exclusive")] = None,
    customers: ListParam = None, parties: ListParam = None, metering_points: ListParam = None,
    meters: ListParam = None, regions: ListParam = None, companies: ListParam = None, groups: ListParam = None,
    utilities: ListParam = None, categories: ListParam = None, items: ListParam = None, sources: ListParam = None,
    quality: Annotated[list[int] | None, Query()] = None, good_only: bool = False,
    layer: Annotated[str, Query(description="raw or validated")] = "raw",
    limit: Annotated[int, Query(description="rows per page")] = 1000,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ReadingQuery:
    data = _present(customers=customers, parties=parties, metering_points=metering_points, meters=meters,
                    regions=regions, companies=companies, groups=groups, utilities=utilities, categories=categories,
                    items=items, sources=sources, quality=quality, cursor=cursor)
    data.update({"from": start, "to": end, "good_only": good_only, "layer": layer, "limit": limit})
    return parse_model(ReadingQuery, data)  # type: ignore[no-any-return]


def selection_of(data: dict[str, Any]) -> Selection:
    return parse_model(Selection, data)  # type: ignore[no-any-return]
