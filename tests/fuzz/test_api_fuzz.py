"""API fuzzing, bounded profile (``make test``): schemathesis over every service's OpenAPI document.

Every service runs as ``make up`` runs it (``fuzz_stack``), seeded with two companies' master data;
each operation gets a few derandomized cases (``fuzz_driver.BOUNDED``: positive, negative, and on
seeded rows) sent with a valid admin token. A service fails here on a 5xx it does not document or
on an answer whose body does not match the schema documented for its status; the message lists
each failure with a ``curl`` line that reproduces it. The long profile is ``tools/bench/bench_fuzz.py``
(``make bench``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fuzz_driver import BOUNDED, fuzz_service
from fuzz_stack import FuzzStack, Token, available_services, known_path_values

pytestmark = pytest.mark.integration

TOKEN = Token()


def test_every_service_is_served(fuzz_stack: FuzzStack) -> None:
    assert set(fuzz_stack.urls) >= {"archive", "collector", "validator", "front-end-processor", "control",
                                    "analytics"}
    assert set(fuzz_stack.urls) == set(available_services())


@pytest.mark.parametrize("service", available_services())
def test_no_server_errors_and_answers_match_their_schemas(fuzz_stack: FuzzStack, service: str,
                                                          record_property: Callable[[str, object], None]) -> None:
    report = fuzz_service(service, fuzz_stack.urls[service], fuzz_stack.documents[service], BOUNDED,
                          TOKEN.headers, known_path_values)
    record_property("fuzz", report.summary())
    assert report.failures == [], f"{report.summary()}\n" + "\n".join(str(f) for f in report.failures)
    assert report.cases >= report.operations, "every operation got at least one case"
    assert any(200 <= status < 300 for status in report.statuses), "nothing was accepted: the token?"
