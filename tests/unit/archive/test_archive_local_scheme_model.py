"""A metering point's local communication scheme (R-4.6.7) in the archive's master data: the entity and the
customer/meter import row; a value outside the vocabulary is refused naming the allowed ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from emms_archive.masterdata.models import CustomerMeterRow, MeteringPoint
from emms_messages.masterdata import LOCAL_SCHEMES

POINT = {"id": "MP1", "customer_id": "C1", "utility": "electricity", "terminal_id": "T1", "pn": 3, "port": 31}


@pytest.mark.parametrize("scheme", LOCAL_SCHEMES)
def test_a_metering_point_carries_its_local_scheme(scheme: str) -> None:
    point = MeteringPoint.model_validate({**POINT, "local_scheme": scheme})
    assert point.local_scheme == scheme and point.model_dump(mode="json")["local_scheme"] == scheme


def test_the_scheme_may_be_left_out() -> None:
    assert MeteringPoint.model_validate(POINT).local_scheme is None


def test_a_scheme_outside_the_vocabulary_is_refused_with_the_allowed_list() -> None:
    with pytest.raises(ValidationError) as refused:
        MeteringPoint.model_validate({**POINT, "local_scheme": "carrier"})
    message = str(refused.value)
    assert "local_scheme" in message and all(f"'{s}'" in message for s in LOCAL_SCHEMES)


def test_the_import_row_passes_it_to_the_metering_point() -> None:
    row = CustomerMeterRow.model_validate({
        "customer_id": "C1", "customer_name": "Home", "utility": "water", "category": "w_residential",
        "company_id": "CO", "region_id": "R", "metering_point_id": "MP1", "terminal_id": "T1", "pn": 4, "port": 2,
        "local_scheme": "mbus", "meter_id": "M1", "protocol": "cjt188-2004", "meter_address": "00000000000001",
        "installed_at": datetime(2026, 1, 1, tzinfo=UTC)})
    _, point, _ = row.split()
    assert point.local_scheme == "mbus" and point.port == 2
