"""The registry of master-data entities: table, model, natural key, references and scope.

Routes, the generic repository, imports and scope checks are all driven by this table, so a
new entity is one row here plus its model and its table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from emms_archive.masterdata import models
from emms_archive.masterdata.models import Record


class ScopeKind(StrEnum):
    """How a caller's company / region scope applies to an entity's rows."""

    COMPANY = "company"  # the row itself (id) is a company
    REGION = "region"  # the row itself (id) is a region
    OWNED = "owned"  # company_id, and region_id when the table has one
    CUSTOMER_OF = "customer_of"  # through customer_id
    GROUP_OF = "group_of"  # through group_id


@dataclass(frozen=True, slots=True)
class Ref:
    """``field`` holds the key of an ``entity`` row that must exist (in the DB or the same batch)."""

    field: str
    entity: str


@dataclass(frozen=True, slots=True)
class EntitySpec:
    name: str
    path: str
    table: str
    model: type[Record]
    key: tuple[str, ...]
    refs: tuple[Ref, ...]
    scope: ScopeKind
    has_region: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    @property
    def soft_delete(self) -> bool:
        """Entities with a status are marked removed (history and references stay)."""
        return "status" in self.model.model_fields

    def key_of(self, record: dict[str, object]) -> tuple[str, ...]:
        return tuple(str(record[k]) for k in self.key)

    def entity_id(self, key: tuple[str, ...]) -> str:
        """The key as one string (bus ``entity_id``, audit): parts joined by ``/``."""
        return "/".join(key)


ENTITIES: dict[str, EntitySpec] = {s.name: s for s in (
    EntitySpec("company", "companies", "company", models.Company, ("id",), (), ScopeKind.COMPANY),
    EntitySpec("region", "regions", "region", models.Region, ("id",), (Ref("parent_id", "region"),),
               ScopeKind.REGION),
    EntitySpec("service_area", "service-areas", "service_area", models.ServiceArea,
               ("company_id", "region_id", "utility"),
               (Ref("company_id", "company"), Ref("region_id", "region")), ScopeKind.OWNED, has_region=True),
    EntitySpec("network_node", "network-nodes", "network_node", models.NetworkNode, ("id",),
               (Ref("parent_id", "network_node"), Ref("company_id", "company"), Ref("region_id", "region")),
               ScopeKind.OWNED, has_region=True),
    EntitySpec("terminal", "terminals", "terminal", models.Terminal, ("id",),
               (Ref("parent_id", "terminal"), Ref("company_id", "company"), Ref("region_id", "region")),
               ScopeKind.OWNED, has_region=True),
    EntitySpec("customer", "customers", "customer", models.Customer, ("id",),
               (Ref("company_id", "company"), Ref("region_id", "region"), Ref("node_id", "network_node")),
               ScopeKind.OWNED, has_region=True),
    EntitySpec("heating_season", "heating-seasons", "heating_season", models.HeatingSeason,
               ("customer_id", "season"), (Ref("customer_id", "customer"),), ScopeKind.CUSTOMER_OF),
    EntitySpec("meter", "meters", "meter", models.Meter, ("id",), (Ref("company_id", "company"),),
               ScopeKind.OWNED),
    EntitySpec("metering_point", "metering-points", "metering_point", models.MeteringPoint, ("id",),
               (Ref("customer_id", "customer"), Ref("node_id", "network_node"), Ref("terminal_id", "terminal")),
               ScopeKind.CUSTOMER_OF),
    EntitySpec("custom_group", "groups", "custom_group", models.CustomGroup, ("id",),
               (Ref("company_id", "company"),), ScopeKind.OWNED),
    EntitySpec("group_member", "group-members", "group_member", models.GroupMember,
               ("group_id", "member_kind", "member_id"), (Ref("group_id", "custom_group"),), ScopeKind.GROUP_OF),
)}
"""In dependency order: an entity only references entities listed before it (or itself)."""

BY_PATH: dict[str, EntitySpec] = {s.path: s for s in ENTITIES.values()}
