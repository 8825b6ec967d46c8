"""Schemathesis over one service's OpenAPI document: every operation, a valid token, two checks.

For each operation, Hypothesis draws cases from schemathesis's strategies (``as_strategy``) in both
generation modes — positive (requests the schema allows) and negative (requests it forbids:
wrong types, values out of range, missing fields, stray characters) — and a third share with the
path parameters set to seeded rows (:func:`fuzz_stack.known_path_values`), so GETs reach real data.
Every case is sent with an admin token carrying a fresh step-up, and its answer is checked:

* ``not_a_server_error``: no 5xx, whatever was sent — unless the operation documents that status
  (a deliberate answer with its schema, e.g. 504 when a device does not answer; then its body is
  checked like any other);
* ``response_schema_conformance``: a documented status's body matches its documented schema.

Failures are collected (not raised: Hypothesis neither stops nor shrinks), one per operation,
check and status, with a ``curl`` line that reproduces the first case found. Operations that
delete run last, so the seeded rows stay for the other operations' requests.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
import schemathesis.python.asgi
import schemathesis.python.wsgi
import schemathesis.transport.asgi
import schemathesis.transport.requests
import schemathesis.transport.wsgi
import yaml  # noqa: F401
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass(frozen=True)
class Profile:
    """How much to generate: ``max_examples`` cases per operation (all modes together)."""

    name: str
    max_examples: int
    seed: int | None = None
    """``None``: derandomized (the same cases on every run); a number: that seed."""
    request_timeout_s: float = 30.0
    in_flight: int = 4
    """Requests sent at once (while Hypothesis draws the next cases)."""
    coverage: bool = False
    """Also every case of schemathesis's coverage phase (deterministic boundaries of each parameter and
    body field, positive and negative: minimum - 1, maximum + 1, wrong types, missing and unexpected
    parameters, other methods): about 11,000 requests over all services."""


BOUNDED = Profile("bounded", max_examples=int(os.environ.get("EMMS_FUZZ_EXAMPLES", "4")))
"""``make test``: a few derandomized cases per operation of every service (under a minute in all)."""
LONG = Profile("long", max_examples=int(os.environ.get("EMMS_FUZZ_LONG_EXAMPLES", "200")),
               seed=int(os.environ.get("EMMS_FUZZ_SEED", "14")), coverage=True)
"""``make bench``: the coverage phase and then hundreds of drawn cases per operation."""


@dataclass
class Failure:
    service: str
    operation: str
    check: str
    status: int | None
    message: str
    reproduce: str
    count: int = 1

    def __str__(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return (f"{self.service} {self.operation}: {self.check} (status {self.status}, {self.count} case(s))"
                f" {first}\n    {self.reproduce}")


@dataclass
class Report:
    service: str
    operations: int = 0
    cases: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent on each operation (generation and requests)."""

    def slowest(self, n: int = 5) -> list[tuple[str, float]]:
        return sorted(self.timings.items(), key=lambda kv: -kv[1])[:n]

    def summary(self) -> str:
        return (f"{self.service}: {self.operations} operations, {self.cases} cases, {len(self.failures)} failures,"
                f" {self.seconds:.1f} s; statuses {dict(sorted(self.statuses.items()))}")


def load_schema(document: dict[str, Any], base_url: str | None = None) -> Any:
    """The service's OpenAPI document as a schemathesis schema (no config file discovered)."""
    config = schemathesis.Config()
    schema = schemathesis.openapi.from_dict(document, config=config)
    if base_url:
        schema.config.update(base_url=base_url)
    return schema


def _order(operation: Any) -> tuple[int, str]:
    return (1 if operation.method.upper() == "DELETE" else 0, operation.label)


def fuzz_service(service: str, base_url: str, document: dict[str, Any], profile: Profile,
                 headers: Callable[[], dict[str, str]],
                 known: Callable[[str, list[str]], dict[str, str]] | None = None) -> Report:
    """Fuzz every operation of one service; a :class:`Report` of what was sent and what failed."""
    schema = load_schema(document, base_url)
    report = Report(service)
    started = time.perf_counter()
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.failures.append(Failure(service, "?", "invalid operation definition", None, str(result.err()), ""))
        else:
            operations.append(result.ok())
    operations.sort(key=_order)
    with ThreadPoolExecutor(profile.in_flight, thread_name_prefix=f"fuzz-{service}") as senders:
        for operation in operations:
            report.operations += 1
            at = time.perf_counter()
            _fuzz_operation(operation, report, profile, senders, headers, known)
            report.timings[operation.label] = time.perf_counter() - at
    report.seconds = time.perf_counter() - started
    return report


def _strategy(operation: Any, known: Callable[[str, list[str]], dict[str, str]] | None) -> Any:
    strategies = [operation.as_strategy(generation_mode=mode) for mode in (GenerationMode.POSITIVE,
                                                                           GenerationMode.NEGATIVE)]
    names = [p.name for p in operation.path_parameters]
    values = known(operation.path, names) if known and names else {}
    if values:
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=values))
    return st.one_of(strategies)


_sessions = threading.local()


def _session() -> requests.Session:
    session: requests.Session | None = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    return session


def _fuzz_operation(operation: Any, report: Report, profile: Profile, senders: ThreadPoolExecutor,
                    headers: Callable[[], dict[str, str]],
                    known: Callable[[str, list[str]], dict[str, str]] | None) -> None:
    """Hypothesis draws the cases on this thread while ``senders`` send them (the drawing and the
    services' work overlap); the answers are checked here, all before the next operation starts.
    Only sending happens on other threads: schemathesis imports modules lazily, and CPython 3.11's
    compiler (pytest rewrites what is imported) is not safe to run on two threads at once."""
    found: dict[tuple[str, int | None], Failure] = {}
    documented = {code for code in operation.definition.raw.get("responses", {}) if code.startswith("5")}

    def record(check: str, status: int | None, message: str, case: Any, sent: dict[str, str]) -> None:
        key = (check, status)
        if key in found:
            found[key].count += 1
            return
        reproduce = case.as_curl_command(headers={**sent, "Authorization": "Bearer $TOKEN"})
        found[key] = Failure(report.service, operation.label, check, status, message, reproduce)

    def send(case: Any, sent: dict[str, str]) -> Any:
        try:
            return case.call(session=_session(), headers=sent, timeout=profile.request_timeout_s)
        except requests.RequestException as exc:
            return exc

    def check(case: Any, sent: dict[str, str], response: Any) -> None:
        if isinstance(response, requests.RequestException):
            record("no answer", None, repr(response), case, sent)
            return
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        checks = CHECKS if str(response.status_code) not in documented else CHECKS[1:]
        try:
            case.validate_response(response, checks=checks, headers=sent)
        except FailureGroup as group:
            for failure in group.exceptions:
                record(failure.title, response.status_code, f"{failure.message} {response.text[:300]}", case, sent)

    pending: list[tuple[Any, dict[str, str], Future[Any]]] = []
    settings = hypothesis.settings(
        max_examples=profile.max_examples, derandomize=profile.seed is None, database=None, deadline=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet, print_blob=False)

    @settings
    @hypothesis.given(case=_strategy(operation, known))
    def run(case: Any) -> None:
        report.cases += 1
        sent = headers()
        pending.append((case, sent, senders.submit(send, case, sent)))

    if profile.coverage:
        schema = operation.schema
        config = schema.config.generation_for(operation=operation, phase="coverage")
        for case in schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                               generation_config=config):
            report.cases += 1
            sent = headers()
            pending.append((case, sent, senders.submit(send, case, sent)))
    if profile.seed is not None:
        run = hypothesis.seed(profile.seed)(run)
    try:
        with warnings.catch_warnings():
            # schemathesis's negative mode draws with `random` inside strategies (a Hypothesis deprecation)
            warnings.simplefilter("ignore", HypothesisDeprecationWarning)
            run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing could be generated for this operation (no parameters to vary)
    for case, sent, future in pending:
        check(case, sent, future.result())
    report.failures.extend(found.values())
