"""Every service's OpenAPI document is one schemathesis can load (valid OpenAPI 3, every operation
resolvable) and marks each operation's access: ``x-emms-permission`` (written by
``emms_runtime.auth.annotate_openapi`` from the route's ``require``) or ``x-emms-public``.

The documents are those of the apps as built for ``make up``; nothing is started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fuzz_driver import load_schema
from fuzz_stack import available_services, build_app
from schemathesis.core.result import Err

from emms_bus import KafkaSettings

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _document(service: str) -> dict[str, Any]:
    app = build_app(service, "postgresql://nobody@127.0.0.1:9/none", KafkaSettings(), Path("/nonexistent"))
    document: dict[str, Any] = app.openapi()
    return document


@pytest.mark.parametrize("service", available_services())
def test_the_document_is_valid_openapi(service: str) -> None:
    schema = load_schema(_document(service))
    schema.validate()
    results = list(schema.get_all_operations())
    errors = [str(r.err()) for r in results if isinstance(r, Err)]
    assert errors == []
    assert len(results) >= 4, "the runtime's health and service routes at least"


@pytest.mark.parametrize("service", available_services())
def test_every_operation_carries_an_access_mark(service: str) -> None:
    document = _document(service)
    unmarked = [f"{method.upper()} {path}" for path, item in document["paths"].items()
                for method, operation in item.items()
                if method in METHODS and "x-emms-permission" not in operation and not operation.get("x-emms-public")]
    assert unmarked == []
