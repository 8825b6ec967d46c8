"""``emms-token``: issue a development bearer token.

    emms-token --role operator --subject alice [--company C1] [--region R1] [--ttl 3600]
"""

from __future__ import annotations

import argparse
import sys

from emms_runtime.auth import ROLES, issue_token
from emms_runtime.settings import AuthSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emms-token", description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--subject", default="dev")
    parser.add_argument("--company", action="append", default=[])
    parser.add_argument("--region", action="append", default=[])
    parser.add_argument("--ttl", type=int, default=12 * 3600)
    args = parser.parse_args(argv)
    token = issue_token(AuthSettings(), args.subject, args.role, ttl_s=args.ttl,
                        companies=tuple(args.company), regions=tuple(args.region))
    sys.stdout.write(token + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
