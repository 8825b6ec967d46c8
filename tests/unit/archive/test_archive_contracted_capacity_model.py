"""A customer's contracted capacity (kVA) in the archive's master data: the entity and the customer/meter import row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from emms_archive.masterdata.models import Customer, CustomerMeterRow

BASE = {"id": "C1", "name": "Plant", "utility": "electricity", "category": "e_large_dedicated", "company_id": "CO",
        "region_id": "R"}


def test_a_customer_carries_its_contracted_capacity() -> None:
    assert Customer.model_validate({**BASE, "contracted_capacity_kva": 1250}).contracted_capacity_kva == 1250
    assert Customer.model_validate(BASE).contracted_capacity_kva is None
    with pytest.raises(ValidationError):
        Customer.model_validate({**BASE, "contracted_capacity_kva": -1})


def test_the_import_row_passes_it_to_the_customer() -> None:
    row = CustomerMeterRow.model_validate({
        "customer_id": "C1", "customer_name": "Plant", "utility": "electricity", "category": "e_large_dedicated",
        "company_id": "CO", "region_id": "R", "contracted_capacity_kva": "800", "metering_point_id": "MP1",
        "meter_id": "M1", "protocol": "dlt645-2007", "meter_address": "000000000001",
        "installed_at": datetime(2026, 1, 1, tzinfo=UTC)})
    customer, _, _ = row.split()
    assert customer.contracted_capacity_kva == 800.0
