"""skolit-token: mint a development token, so the API can be tried with curl without an identity provider."""

from __future__ import annotations

import argparse
import os
import uuid

from shared.auth import Role, mint
from shared.settings import DEV_JWT_SECRET


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="skolit-token", description="Print an HS256 bearer token for development.")
    parser.add_argument("--role", action="append", required=True, choices=[r.value for r in Role], help="repeatable")
    parser.add_argument("--school", action="append", default=[], type=uuid.UUID, help="school unit uuid, repeatable")
    parser.add_argument("--district", action="append", default=[], type=uuid.UUID, help="district uuid, repeatable")
    parser.add_argument("--subject", default="dev-user")
    parser.add_argument("--name")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    # Same variables as the services read, so the token matches what they verify.
    secret = os.environ.get("SKOLIT_JWT_SECRET") or DEV_JWT_SECRET
    print(mint(secret, subject=args.subject, roles=args.role, school_units=args.school, districts=args.district,
               name=args.name, ttl_seconds=args.ttl,
               issuer=os.environ.get("SKOLIT_JWT_ISSUER") or None, audience=os.environ.get("SKOLIT_JWT_AUDIENCE") or None))


if __name__ == "__main__":
    main()
