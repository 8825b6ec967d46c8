"""``emms-token``: issue a development bearer token (development only).

    emms-token --role operator --subject alice [--company C1] [--region R1] [--ttl 3600] [--step-up]

The token is signed with the published development key; services accept it only while
``EMMS_ACCEPT_DEV_TOKENS`` is true, which production settings refuse. Real tokens come from
the identity service's token endpoint (``POST /oauth/token``).
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
    parser.add_argument("--customer", action="append", default=[])
    parser.add_argument("--ttl", type=int, default=12 * 3600)
    parser.add_argument("--step-up", action="store_true", help="mark the token as stepped up (control, tariffs, users)")
    args = parser.parse_args(argv)
    token = issue_token(AuthSettings(), args.subject, args.role, ttl_s=args.ttl, companies=tuple(args.company),
                        regions=tuple(args.region), customers=tuple(args.customer), step_up=args.step_up)
    sys.stdout.write(token + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
