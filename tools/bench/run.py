"""``make bench``: run every ``tools/bench/bench_*.py`` and print one table.

Each module has ``run() -> list[dict]`` with rows (benchmark, metric, value,
unit, target, note). Results also go to ``.cache/bench/results.json``.
A module that fails is reported as a failed row; the others still run.

    .venv/bin/python tools/bench/run.py [NAME ...]     (NAME: e.g. protocol_1376)
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ("benchmark", "metric", "value", "unit", "target", "note")


def _load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: list[dict[str, object]]) -> str:
    cells = [[_fmt(r.get(c, "")) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(COLUMNS)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join([line, sep, *body])


def main(names: list[str]) -> int:
    modules = sorted(HERE.glob("bench_*.py"))
    if names:
        modules = [m for m in modules if m.stem.removeprefix("bench_") in names]
    rows: list[dict[str, object]] = []
    for path in modules:
        started = time.perf_counter()
        print(f"running {path.stem} …", file=sys.stderr, flush=True)
        try:
            rows.extend(_load(path).run())  # type: ignore[attr-defined]
        except Exception as exc:
            traceback.print_exc()
            rows.append({"benchmark": path.stem, "metric": "FAILED", "value": "", "unit": "",
                         "target": "", "note": repr(exc)[:120]})
        print(f"  {path.stem} took {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(f"\nEMMS benchmarks on {platform.node()} ({platform.python_implementation()} {platform.python_version()})")
    print(_table(rows) if rows else "(no benchmark modules found)")
    out = Path(".cache/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2, default=str))
    return 1 if any(r.get("metric") == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
