"""Tariff bodies shared by the control unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emms_control.tariffs.definition import VersionBody, build_tariff
from emms_control.tariffs.model import Tariff

CHINA_DAY = [{"start": s, "end": e, "period": p} for s, e, p in (
    ("23:00", "07:00", "valley"), ("07:00", "10:00", "flat"), ("10:00", "12:00", "peak"), ("12:00", "19:00", "flat"),
    ("19:00", "21:00", "sharp"), ("21:00", "23:00", "peak"))]
PRICES = {"e_residential": {"sharp": "1.0", "peak": "0.8", "flat": "0.6", "valley": "0.3"},
          "e_lv_three_phase": {"sharp": "1.2", "peak": "1.0", "flat": "0.7", "valley": "0.35"}}
MONTH_TIERS = {"basis": "month", "categories": ["e_residential"],
               "blocks": [{"up_to": "100", "surcharge": "0"}, {"up_to": "200", "surcharge": "0.05"},
                          {"up_to": None, "surcharge": "0.3"}]}


def version(effective_from: datetime | str = datetime(2026, 1, 1, tzinfo=UTC), **changes: Any) -> dict[str, Any]:
    when = effective_from if isinstance(effective_from, str) else effective_from.isoformat()
    return {"effective_from": when, "day_table": CHINA_DAY, "prices": PRICES,
            "tiers": MONTH_TIERS, **changes}


def tariff(*versions: dict[str, Any], utility: str = "electricity") -> Tariff:
    stored = [(n, VersionBody.model_validate(v).model_dump(mode="json")) for n, v in enumerate(versions, start=1)]
    return build_tariff("T1", utility, 480, stored)
