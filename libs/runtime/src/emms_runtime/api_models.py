"""Response models: what a route returns, documented in the service's OpenAPI.

Every route declares its response model (``response_model=`` or a return annotation),
or, for a body that is not JSON (CSV, XLSX, metrics, 204), its ``response_class``;
``tests/unit/runtime/test_runtime_response_models.py`` fails for a route that does
neither.

A route's body is usually built as a ``dict`` from database rows. :class:`ApiModel`
lets such a route declare its shape without changing what it sends: the body is
validated against the model (a route returning something else is a 500, caught by the
tests), and then sent exactly as the route built it (``jsonable_encoder``: datetimes
``isoformat()``, decimals as numbers), including fields the model does not name
(``extra="allow"``) — a model documents the fields a client can rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)


class ApiModel(BaseModel):
    """A JSON response body: validated against its fields, sent as the route built it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    _built: Any = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_built(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(data)
        if isinstance(data, Mapping) and isinstance(model, ApiModel):
            model._built = data
        return model

    @model_serializer(mode="wrap")
    def _as_built(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]  # no return type: the schema stays the model's
        if self._built is not None and info.mode_is_json():
            return jsonable_encoder(self._built)
        return handler(self)


class Page(ApiModel):
    """A page of a list: its items, how many, and the cursor of the next page (``null`` at the end)."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
