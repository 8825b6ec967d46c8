"""API fuzzing, long profile: schemathesis over every service's OpenAPI with a valid admin token.

The same stack and driver as ``tests/fuzz`` (the bounded profile of ``make test``), with hundreds
of cases per operation: every service served by uvicorn on a fresh database and a Tansu broker of
this run, seeded with two companies' master data; checks ``not_a_server_error`` and
``response_schema_conformance``. One row per service: operations, cases, failures, seconds; the
failures themselves are printed to stderr and kept in ``.cache/bench/fuzz-failures.txt``.

    EMMS_FUZZ_LONG_EXAMPLES=200 EMMS_FUZZ_SEED=14 EMMS_FUZZ_SERVICES=archive,collector \\
        .venv/bin/python tools/bench/bench_fuzz.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))

from fuzz_driver import LONG, Profile, Report, fuzz_service  # noqa: E402
from fuzz_stack import FuzzStack, Token, available_services, known_path_values  # noqa: E402

from emms_bus import KafkaSettings  # noqa: E402
from emms_db import drop_database, ensure_database  # noqa: E402
from emms_db.settings import DEFAULT_URL  # noqa: E402
from emms_devstack.local_broker import LocalBroker  # noqa: E402
from emms_devstack.postgres import ensure_server  # noqa: E402

BENCH = "api fuzzing (schemathesis)"


def fuzz_all(profile: Profile, services: list[str] | None = None) -> tuple[list[Report], float]:
    """Start the stack, fuzz each service with ``profile``; the reports and the start-up seconds."""
    server = os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL)
    ensure_server(server)
    base = urlunsplit(urlsplit(server)._replace(path="/emms_bench_fuzz"))
    asyncio.run(ensure_database(base))  # the stack makes its own database beside this one
    broker = LocalBroker().start()
    try:
        kafka = KafkaSettings(bootstrap=broker.bootstrap, topic_prefix="bfz.", session_timeout_ms=6000,
                              heartbeat_interval_ms=500)
        with tempfile.TemporaryDirectory(prefix="emms-fuzz-") as tmp, \
                FuzzStack(base, kafka, Path(tmp), services=services or available_services()) as stack:
            token = Token()
            reports = []
            for name in stack.urls:
                reports.append(fuzz_service(name, stack.urls[name], stack.documents[name], profile, token.headers,
                                            known_path_values))
                print(f"  {reports[-1].summary()}", file=sys.stderr, flush=True)
            return reports, stack.startup_s
    finally:
        broker.stop()
        asyncio.run(drop_database(base))


def run() -> list[dict[str, object]]:
    wanted = [s for s in os.environ.get("EMMS_FUZZ_SERVICES", "").split(",") if s]
    reports, startup_s = fuzz_all(LONG, wanted or None)
    note = (f"coverage phase + {LONG.max_examples} drawn cases/operation, seed {LONG.seed};"
            " checks: no 5xx, response schemas")
    services = ", ".join(r.service for r in reports)
    rows: list[dict[str, object]] = [{"benchmark": BENCH, "metric": "start-up and seeding", "value": startup_s,
                                      "unit": "s", "target": "", "note": f"services: {services}"}]
    failures: list[str] = []
    for r in reports:
        for metric, value, unit in (("operations", r.operations, ""), ("cases", r.cases, ""),
                                    ("failures", len(r.failures), ""), ("seconds", r.seconds, "s")):
            rows.append({"benchmark": BENCH, "metric": f"{r.service}: {metric}", "value": value, "unit": unit,
                         "target": "0" if metric == "failures" else "", "note": note if metric == "cases" else ""})
        failures += [str(f) for f in r.failures]
        print(f"{r.service} slowest: " + ", ".join(f"{op} {s:.1f} s" for op, s in r.slowest()), file=sys.stderr)
    text = "\n".join(failures) or "no failures"
    print(text, file=sys.stderr)
    out = REPO / ".cache" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fuzz-failures.txt").write_text(text + "\n")
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
