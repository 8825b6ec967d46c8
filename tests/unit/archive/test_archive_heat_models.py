"""Heat master data: a customer's network node and heated area, heating on / off per season."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from emms_archive.masterdata.entities import BY_PATH, ENTITIES
from emms_archive.masterdata.models import Customer, HeatingSeason


def test_heat_customer_carries_its_node_and_area() -> None:
    c = Customer.model_validate({"id": "H1", "name": "n", "utility": "heat", "category": "h_residential",
                                 "company_id": "CO", "region_id": "R", "node_id": "FLOOR-3", "heated_area_m2": 86.5})
    assert (c.node_id, c.heated_area_m2) == ("FLOOR-3", 86.5)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Customer.model_validate({**c.model_dump(), "heated_area_m2": -1})
    assert any(r.field == "node_id" and r.entity == "network_node" for r in ENTITIES["customer"].refs)


@given(st.integers(1970, 2998))
def test_a_season_is_two_consecutive_years(first: int) -> None:
    season = f"{first}-{first + 1}"
    assert HeatingSeason(customer_id="H1", season=season, heating=False).season == season
    with pytest.raises(ValidationError):
        HeatingSeason(customer_id="H1", season=f"{first}-{first + 2}", heating=True)


def test_seasons_are_an_entity_keyed_by_customer_and_season() -> None:
    spec = BY_PATH["heating-seasons"]
    assert spec.key == ("customer_id", "season") and spec.scope.value == "customer_of"
    with pytest.raises(ValidationError):
        HeatingSeason.model_validate({"customer_id": "H1", "season": "2026/2027", "heating": True})
