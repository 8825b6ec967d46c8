"""Field-level rules of master-data records."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from emms_archive.masterdata.models import (
    Company,
    Customer,
    CustomerMeterRow,
    Meter,
    MeteringPoint,
    NetworkNode,
    Terminal,
)


def _customer(**kw: object) -> Customer:
    base = {"id": "C1", "name": "n", "utility": "gas", "category": "g_residential", "company_id": "G",
            "region_id": "R"}
    return Customer.model_validate({**base, **kw})


def test_customer_is_its_own_party_unless_linked() -> None:
    assert _customer().party_id == "C1"
    assert _customer(party_id="P9").party_id == "P9"


def test_category_must_belong_to_the_utility() -> None:
    with pytest.raises(ValidationError, match="belongs to electricity"):
        _customer(category="e_residential")


@pytest.mark.parametrize("bad", [{"id": ""}, {"id": "a b"}, {"id": "x/y"}, {"utility": "steam"}, {"extra": 1}])
def test_bad_fields_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _customer(**bad)


def test_utilities_list_from_a_csv_cell() -> None:
    assert [u.value for u in Company(id="G", name="g", utilities="electricity; heat").utilities] == [  # type: ignore[arg-type]
        "electricity", "heat"]


def test_network_kind_fits_the_utility() -> None:
    NetworkNode(id="N", utility="heat", kind="heat_exchange_station", name="s", company_id="G")  # type: ignore[arg-type]
    NetworkNode(id="N", utility="water", kind="building", name="s", company_id="G")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not a water network element"):
        NetworkNode(id="N", utility="water", kind="transformer", name="s", company_id="G")  # type: ignore[arg-type]


def test_multiplier_defaults_to_ct_times_pt() -> None:
    base = {"id": "M", "utility": "electricity", "protocol": "dlt645-2007", "address": "1", "company_id": "G"}
    assert Meter.model_validate({**base, "ct_ratio": 200, "pt_ratio": 10}).multiplier == 2000.0
    assert Meter.model_validate({**base, "ct_ratio": 200, "multiplier": 40}).multiplier == 40.0
    assert Meter.model_validate(base).multiplier == 1.0


def test_terminal_address_is_hex_or_the_bus_form() -> None:
    assert Terminal(id="T", kind="concentrator", address="3701-00012", company_id="G").address == "3701-00012"  # type: ignore[arg-type]


def test_terminal_address_is_hex_and_pn_goes_with_terminal() -> None:
    with pytest.raises(ValidationError):
        Terminal(id="T", kind="concentrator", address="zz-01", company_id="G")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="go together"):
        MeteringPoint(id="P", customer_id="C", utility="water", pn=3)  # type: ignore[arg-type]


def test_customer_meter_row_splits_into_three_records() -> None:
    row = CustomerMeterRow.model_validate({
        "customer_id": "C1", "customer_name": "n", "utility": "water", "category": "w_residential",
        "company_id": "G", "region_id": "R", "metering_point_id": "P1", "terminal_id": "T", "pn": 4,
        "meter_id": "M1", "protocol": "cjt188-2004", "meter_address": "12345678901234",
        "multiplier": "2", "installed_at": "2026-01-01T00:00:00+08:00"})
    customer, point, meter = row.split()
    assert (customer.id, point.customer_id, point.pn, meter.address, meter.multiplier) == ("C1", "C1", 4,
                                                                                         "12345678901234", 2.0)
    with pytest.raises(ValidationError, match="timezone"):
        CustomerMeterRow.model_validate({**row.model_dump(), "installed_at": "2026-01-01T00:00:00"})
