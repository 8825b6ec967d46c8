"""Request bodies and response models of ``/api/v1/analytics/supply-quality``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from emms_runtime.api_models import ApiModel


class VoltageAnswer(ApiModel):
    """Per voltage level: the qualification rate from the curves and from the terminals' statistics,
    unbalanced points; ``points`` the per-point figures (status ``incomplete`` with the reason)."""

    levels: list[dict[str, Any]]
    points: list[dict[str, Any]]


class PowerFactorAnswer(ApiModel):
    customers: int
    judged: int
    outside: list[str]
    rows: list[dict[str, Any]]


class HarmonicsAnswer(ApiModel):
    limits: dict[str, float]
    points: int
    violations: int
    rows: list[dict[str, Any]]


class PressureAnswer(ApiModel):
    utility: str
    summary: dict[str, Any]
    rows: list[dict[str, Any]]


class HeatBalanceAnswer(ApiModel):
    nodes: list[dict[str, Any]]


class HeatDeviationAnswer(ApiModel):
    system: str
    nodes: list[dict[str, Any]]


class LimitsAnswer(ApiModel):
    voltage_levels: list[dict[str, Any]]
    default_level: str
    power_factor: list[dict[str, Any]]
    power_factor_default: dict[str, float]
    pressure: list[dict[str, Any]]


class VoltageLevelBody(BaseModel):
    nominal_v: float = Field(gt=0, le=1_000_000)
    upper_pct: float = Field(ge=0, le=100)
    lower_pct: float = Field(ge=0, le=100)


class LevelPointsBody(BaseModel):
    metering_points: list[Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z_.:/-]{0,99}$")]] = Field(
        min_length=1, max_length=10_000)


class PowerFactorBody(BaseModel):
    pf_min: float = Field(ge=0, le=1)
    pf_max: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> PowerFactorBody:
        if self.pf_min > self.pf_max:
            raise ValueError(f"pf_min {self.pf_min} is above pf_max {self.pf_max}")
        return self


class PressureBody(BaseModel):
    min_mpa: float = Field(ge=0, le=100)
    max_mpa: float = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> PressureBody:
        if self.min_mpa >= self.max_mpa:
            raise ValueError(f"min_mpa {self.min_mpa} is not below max_mpa {self.max_mpa}")
        return self
