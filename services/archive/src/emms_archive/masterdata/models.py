"""What a client sends for each master-data entity, validated field by field.

One pydantic model per entity; field names are the table's column names, so a validated
record goes to the database as it is. Unknown fields are refused (a typo in an import column
must not be silently dropped). Cross-record rules (references, category vs utility, company
serving the region) are in :mod:`emms_archive.masterdata.checks`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from emms_archive.masterdata.categories import Utility, check_category
from emms_messages.masterdata import LocalScheme

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _split_list(value: Any) -> Any:
    """CSV cells carry lists as ``a;b``; JSON sends real lists."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    return value


class Status(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    REMOVED = "removed"


class TerminalKind(StrEnum):
    CONCENTRATOR = "concentrator"
    COLLECTOR = "collector"


class MeterProtocol(StrEnum):
    DLT645_2007 = "dlt645-2007"
    DLT645_1997 = "dlt645-1997"
    CJT188_2004 = "cjt188-2004"
    AC_SAMPLING = "ac-sampling"
    OTHER = "other"


class MemberKind(StrEnum):
    CUSTOMER = "customer"
    METERING_POINT = "metering_point"
    METER = "meter"


COMMON_NODE_KINDS = frozenset({"area", "building", "unit", "floor"})
NODE_KINDS: dict[str, frozenset[str]] = {
    Utility.ELECTRICITY: frozenset({"substation", "line", "transformer", "feeder", "distribution_box"}),
    Utility.WATER: frozenset({"plant", "pipe_network", "booster_station"}),
    Utility.GAS: frozenset({"storage_distribution_station", "pipe_network", "compressor_station",
                            "booster_station"}),
    Utility.HEAT: frozenset({"heat_source", "primary_network", "heat_exchange_station", "secondary_network"}),
}


VOLTAGE_LEVELS_KV = (0.22, 0.38, 6.0, 10.0, 20.0, 35.0, 66.0, 110.0, 220.0, 330.0, 500.0)
"""Nominal supply voltage levels (kV) a metering point may be connected at (电压等级)."""


def check_voltage_level(value: float | None) -> float | None:
    if value is not None and value not in VOLTAGE_LEVELS_KV:
        raise ValueError(f"voltage_level_kv {value} is not a nominal level; one of "
                         f"{', '.join(f'{v:g}' for v in VOLTAGE_LEVELS_KV)}")
    return value


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


MAX_RATIO = 1_000_000.0
"""Bound of a CT or PT ratio (the largest in service are about 10⁴): CT × PT stays a finite number
(7e307 × 3e16 was infinity, stored, then a 500 when the record was answered as JSON; API fuzzer)."""


class Company(Record):
    id: Id
    name: Text
    utilities: Annotated[list[Utility], BeforeValidator(_split_list)] = Field(default_factory=list)
    address: str | None = None
    phone: str | None = None
    status: Status = Status.ACTIVE


class Region(Record):
    id: Id
    name: Text
    parent_id: Id | None = None
    level: int = Field(default=1, ge=1, le=10)
    code: str | None = None
    status: Status = Status.ACTIVE


class ServiceArea(Record):
    company_id: Id
    region_id: Id
    utility: Utility


class NetworkNode(Record):
    id: Id
    utility: Utility
    kind: str
    name: Text
    parent_id: Id | None = None
    company_id: Id
    region_id: Id | None = None
    capacity_kva: float | None = Field(default=None, gt=0, le=10_000_000)
    """Rated capacity (a transformer's nameplate kVA): the electricity analyses group by it."""
    status: Status = Status.ACTIVE

    @field_validator("kind")
    @classmethod
    def _kind_fits_utility(cls, value: str, info: ValidationInfo) -> str:
        utility = info.data.get("utility")
        allowed = NODE_KINDS.get(utility, frozenset()) | COMMON_NODE_KINDS if utility else None
        if allowed is not None and value not in allowed:
            raise ValueError(f"kind {value!r} is not a {utility} network element; one of {sorted(allowed)}")
        return value


class TerminalChannel(StrEnum):
    """How the master reaches a terminal (its uplink)."""

    GPRS = "gprs"
    CDMA = "cdma"
    LTE = "4g"
    NR = "5g"
    NB_IOT = "nb-iot"
    ETHERNET = "ethernet"
    PSTN = "pstn"
    SERIAL = "serial"
    POWER_LINE = "power-line"
    RADIO = "radio"


Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Terminal(Record):
    id: Id
    kind: TerminalKind
    address: Annotated[str, StringConstraints(strip_whitespace=True,
                                              pattern=r"^([0-9A-Fa-f]{4}-[0-9]{5}|[0-9A-Fa-f]{4,16})$")]
    """The terminal address: the bus form ``AAAA-TTTTT`` (area code, terminal number) or hex digits."""
    protocol: str = "q1376.1-2013"
    parent_id: Id | None = None
    model: str | None = None
    company_id: Id
    region_id: Id | None = None
    status: Status = Status.ACTIVE
    # the terminal's archive (R-4.6.3, migration 0014)
    vendor: Short | None = None
    serial_number: Short | None = None
    firmware: Short | None = None
    """Software version as the terminal reports it (AFN09 F1)."""
    hardware_version: Short | None = None
    channel: TerminalChannel | None = None
    sim_iccid: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{18,20}[0-9Ff]?$")] | None = None
    sim_msisdn: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{5,15}$")] | None = None
    install_place: Text | None = None
    """Where it hangs: the transformer room, the building's meter cabinet …"""
    installed_at: AwareDatetime | None = None


class Customer(Record):
    id: Id
    name: Text
    party_id: Id | None = None
    utility: Utility
    category: str
    industry: str | None = None
    company_id: Id
    region_id: Id
    address: str | None = None
    status: Status = Status.ACTIVE
    node_id: Id | None = None
    """Where the customer is in the network: for heat, the floor (or unit, or building) node under a
    heat-exchange station; building / unit / floor / station are that node and its ancestors."""
    heated_area_m2: float | None = Field(default=None, ge=0, le=1_000_000)
    """Heated (billing) area of a heat customer in m²."""
    contracted_capacity_kva: float | None = Field(default=None, ge=0, le=10_000_000)
    """The capacity the customer contracted with the utility, in kVA (key customers are chosen by it)."""

    @field_validator("category")
    @classmethod
    def _category_fits_utility(cls, value: str, info: ValidationInfo) -> str:
        utility = info.data.get("utility")
        reason = check_category(utility, value) if utility else None
        if reason:
            raise ValueError(reason)
        return value

    @model_validator(mode="after")
    def _party_defaults_to_self(self) -> Customer:
        if self.party_id is None:
            self.party_id = self.id
        return self


class MeteringPoint(Record):
    id: Id
    customer_id: Id
    utility: Utility
    name: str | None = None
    node_id: Id | None = None
    terminal_id: Id | None = None
    pn: int | None = Field(default=None, ge=0, le=2040)
    port: int | None = Field(default=None, ge=1, le=31)
    baud_rate: int | None = Field(default=None, gt=0)
    local_scheme: LocalScheme | None = None
    """How the terminal reaches the meter (carrier, wireless, RS-485, M-Bus, AC sampling); None: not known
    (the collector derives it from ``port``)."""
    voltage_level_kv: float | None = None
    """Supply voltage level (nominal kV, :data:`VOLTAGE_LEVELS_KV`)."""
    status: Status = Status.ACTIVE

    @field_validator("voltage_level_kv")
    @classmethod
    def _nominal_voltage(cls, value: float | None) -> float | None:
        return check_voltage_level(value)

    @model_validator(mode="after")
    def _terminal_and_pn_together(self) -> MeteringPoint:
        if (self.terminal_id is None) != (self.pn is None):
            raise ValueError("terminal_id and pn go together: a point read through a terminal needs both")
        return self


class Meter(Record):
    id: Id
    utility: Utility
    model: str | None = None
    manufacturer: str | None = None
    protocol: MeterProtocol
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    multiplier: float | None = Field(default=None, gt=0, le=MAX_RATIO * MAX_RATIO)
    """倍率: the factor from register units to primary units; CT ratio × PT ratio when not given."""
    ct_ratio: float = Field(default=1.0, gt=0, le=MAX_RATIO)
    pt_ratio: float = Field(default=1.0, gt=0, le=MAX_RATIO)
    register_digits: int = Field(default=8, ge=1, le=12)
    company_id: Id
    status: Status = Status.ACTIVE

    @model_validator(mode="after")
    def _multiplier_defaults_to_ct_times_pt(self) -> Meter:
        if self.multiplier is None:
            self.multiplier = self.ct_ratio * self.pt_ratio
        return self


SEASON = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4}-[0-9]{4}$")]


class HeatingSeason(Record):
    """Heating on / off of one heat customer for one heating season (``2026-2027``: the winter starting in
    2026). A customer without a row for a season is heated (stopping is what a household applies for)."""

    customer_id: Id
    season: SEASON
    heating: bool

    @field_validator("season")
    @classmethod
    def _consecutive_years(cls, value: str) -> str:
        first, second = (int(y) for y in value.split("-"))
        if second != first + 1 or not 1970 <= first <= 2998:
            raise ValueError(f"season {value!r} is two consecutive years, e.g. '2026-2027'")
        return value


class CustomGroup(Record):
    id: Id
    name: Text
    description: str | None = None
    company_id: Id | None = None
    owner: str | None = None


class GroupMember(Record):
    group_id: Id
    member_kind: MemberKind
    member_id: Id


class CustomerMeterRow(Record):
    """One row of a source system's customer/meter export: a customer, its metering point and
    the meter installed there (the usual shape of a marketing-system archive dump)."""

    customer_id: Id
    customer_name: Text
    party_id: Id | None = None
    utility: Utility
    category: str
    industry: str | None = None
    company_id: Id
    region_id: Id
    customer_address: str | None = None
    contracted_capacity_kva: float | None = Field(default=None, ge=0, le=10_000_000)
    metering_point_id: Id
    metering_point_name: str | None = None
    node_id: Id | None = None
    terminal_id: Id | None = None
    pn: int | None = Field(default=None, ge=0, le=2040)
    port: int | None = Field(default=None, ge=1, le=31)
    baud_rate: int | None = Field(default=None, gt=0)
    local_scheme: LocalScheme | None = None
    voltage_level_kv: float | None = None
    """Supply voltage level (nominal kV, :data:`VOLTAGE_LEVELS_KV`)."""
    meter_id: Id
    meter_model: str | None = None
    manufacturer: str | None = None
    protocol: MeterProtocol
    meter_address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    multiplier: float | None = Field(default=None, gt=0, le=MAX_RATIO * MAX_RATIO)
    ct_ratio: float = Field(default=1.0, gt=0, le=MAX_RATIO)
    pt_ratio: float = Field(default=1.0, gt=0, le=MAX_RATIO)
    register_digits: int = Field(default=8, ge=1, le=12)
    installed_at: AwareDatetime

    @field_validator("voltage_level_kv")
    @classmethod
    def _nominal_voltage(cls, value: float | None) -> float | None:
        return check_voltage_level(value)

    def split(self) -> tuple[Customer, MeteringPoint, Meter]:
        """The three records this row stands for (validated by their own models)."""
        customer = Customer(id=self.customer_id, name=self.customer_name, party_id=self.party_id,
                            utility=self.utility, category=self.category, industry=self.industry,
                            company_id=self.company_id, region_id=self.region_id, address=self.customer_address,
                            contracted_capacity_kva=self.contracted_capacity_kva)
        point = MeteringPoint(id=self.metering_point_id, customer_id=self.customer_id, utility=self.utility,
                              name=self.metering_point_name, node_id=self.node_id, terminal_id=self.terminal_id,
                              pn=self.pn, port=self.port, baud_rate=self.baud_rate,
                              local_scheme=self.local_scheme, voltage_level_kv=self.voltage_level_kv)
        meter = Meter(id=self.meter_id, utility=self.utility, model=self.meter_model,
                      manufacturer=self.manufacturer, protocol=self.protocol, address=self.meter_address,
                      multiplier=self.multiplier, ct_ratio=self.ct_ratio, pt_ratio=self.pt_ratio,
                      register_digits=self.register_digits, company_id=self.company_id)
        return customer, point, meter


class Installation(Record):
    """Put a meter on a metering point from ``at`` on (a new installation)."""

    meter_id: Id
    at: AwareDatetime
    reason: str | None = None


class Replacement(Record):
    """Swap the point's current meter for ``new_meter_id`` at ``at``."""

    new_meter_id: Id
    at: AwareDatetime
    reason: str | None = None


class Removal(Record):
    """Take the point's current meter off at ``at``."""

    at: AwareDatetime
    reason: str | None = None


def as_row(record: BaseModel) -> dict[str, Any]:
    """A record as the JSON the database upsert takes (enums as values, datetimes ISO)."""
    data: dict[str, Any] = record.model_dump(mode="json")
    return data
