"""``emms-proto``: decode captured frames to JSON Lines, encode downlink frames from JSON.

    emms-proto decode HEX...        (or ``-`` to read hex from stdin)
    emms-proto encode JSON          (or ``-`` / nothing to read JSON from stdin)

Exit status: 0 when at least one frame was decoded / encoded, 1 when none
could be (one line on stderr saying why), 2 on a usage error. Never a traceback:
the last resort handler turns any exception into one stderr line and status 1.
This package is the only place in emms_protocol that does I/O.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from emms_protocol.errors import ProtocolError

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(USAGE_ERROR)


def _parser() -> argparse.ArgumentParser:
    from emms_protocol.cli.encode import SCHEMA_HELP

    parser = _Parser(prog="emms-proto", description="Q/GDW 1376.1, DL/T 645 and CJ/T 188 frames ↔ JSON.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    dec = sub.add_parser("decode", help="decode hex (any spacing, FE preambles, garbage, several frames)",
                         description="Find every 1376.1 / 645 / 188 frame in the hex and print one JSON object "
                                     "per decoded frame (JSON Lines).")
    dec.add_argument("hex", nargs="+", metavar="HEX", help="hex text; several arguments are joined; - reads stdin")
    dec.add_argument("--pretty", action="store_true", help="indent the JSON (no longer one line per frame)")
    enc = sub.add_parser("encode", help="build master downlink frames from JSON",
                         description="Build frames from a JSON request (or a list); prints one hex line per frame.",
                         epilog=SCHEMA_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    enc.add_argument("json", nargs="?", default="-", metavar="JSON", help="the request; - or omitted reads stdin")
    enc.add_argument("--compact", action="store_true", help="hex without spaces")
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"emms-proto: {message}\n")
    return 1


def _decode(args: argparse.Namespace) -> int:
    from emms_protocol.cli.decode import decode_blob
    from emms_protocol.detect import parse_hex

    text = " ".join(sys.stdin.read() if h == "-" else h for h in args.hex)
    try:
        data = parse_hex(text)
    except ProtocolError as exc:
        sys.stderr.write(f"emms-proto: error: input is not hex: {exc}\n")
        return USAGE_ERROR
    decoded, problems = decode_blob(data)
    for obj in decoded:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2 if args.pretty else None) + "\n")
    if decoded:
        for line in problems:
            sys.stderr.write(f"emms-proto: {line}\n")
        return 0
    if problems:
        return _fail(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    return _fail(f"no 1376.1, 645 or 188 frame found in {len(data)} bytes")


def _encode(args: argparse.Namespace) -> int:
    from emms_protocol.cli.encode import encode_request

    text = sys.stdin.read() if args.json == "-" else args.json
    try:
        request = json.loads(text)
    except json.JSONDecodeError as exc:
        sys.stderr.write(f"emms-proto: error: request is not JSON: {exc}\n")
        return USAGE_ERROR
    requests = request if isinstance(request, list) else [request]
    if not requests:
        return _fail("empty request list")
    frames: list[bytes] = []
    for i, spec in enumerate(requests):
        try:
            frames.append(encode_request(spec))
        except ProtocolError as exc:
            where = f"request {i}: " if len(requests) > 1 else ""
            return _fail(f"{where}{exc}")
    for frame in frames:
        sys.stdout.write((frame.hex() if args.compact else frame.hex(" ")).upper() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``emms-proto``)."""
    args = _parser().parse_args(argv)
    try:
        return _decode(args) if args.command == "decode" else _encode(args)
    except KeyboardInterrupt:
        return _fail("interrupted")
    except Exception as exc:  # last resort: one line, never a traceback
        return _fail(f"internal error: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    raise SystemExit(main())
