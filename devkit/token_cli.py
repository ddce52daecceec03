"""skolit-token: a bearer token to try the API with curl.

    python -m devkit.token_cli --persona larare                 # HS256 development token for a demo persona
    python -m devkit.token_cli --role principal --school <uuid> # HS256 development token with the claims given
    python -m devkit.token_cli --sign-in larare                 # sign in at the OpenID provider of `make run`

Development tokens carry Skolit's claims as they are (only services with a development secret take them); a
sign-in goes through the provider's authorization code flow and gives its access token, whose roles the services
derive from the city's data (docs/decisions/0014).
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid

from shared.auth import Role, mint
from shared.settings import DEV_JWT_SECRET

DEFAULT_ISSUER = "http://127.0.0.1:8110"  # devkit/devstack.py OIDC_PORT


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="skolit-token", description="Print a bearer token for development.")
    parser.add_argument("--role", action="append", default=[], choices=[r.value for r in Role], help="repeatable")
    parser.add_argument("--school", action="append", default=[], type=uuid.UUID, help="school unit uuid, repeatable")
    parser.add_argument("--district", action="append", default=[], type=uuid.UUID, help="district uuid, repeatable")
    parser.add_argument("--subject", default="dev-user")
    parser.add_argument("--name")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    parser.add_argument("--persona", help="a demo persona (devkit/demo/personas.py): larare, rektor, omradesadmin, it, dataskydd, "
                                          "stadsadmin, vardnadshavare")
    parser.add_argument("--sign-in", dest="sign_in", metavar="LOGIN", help="sign in at the OpenID provider instead")
    parser.add_argument("--password", help="for --sign-in (default: the demo personas' password)")
    parser.add_argument("--issuer", default=None, help=f"for --sign-in: the provider (default SKOLIT_JWT_ISSUER or {DEFAULT_ISSUER})")
    parser.add_argument("--alg", choices=["RS256", "ES256"], default="RS256", help="for --sign-in: the access token's signature")
    args = parser.parse_args(argv)
    if args.sign_in:
        from devkit.demo.personas import PASSWORD
        from devkit.oidc import SignInFailed, sign_in

        issuer = args.issuer or os.environ.get("SKOLIT_JWT_ISSUER") or DEFAULT_ISSUER
        try:
            print(sign_in(issuer, args.sign_in, args.password or PASSWORD, alg=args.alg))
        except (SignInFailed, OSError) as exc:
            sys.exit(f"skolit-token: could not sign in at {issuer}: {exc}")
        return
    if args.persona:
        from devkit.demo.personas import persona

        try:
            p = persona(args.persona)
        except KeyError as exc:
            parser.error(str(exc.args[0]))
        args.subject, args.role, args.school, args.district = str(p.person), [p.role], list(p.school_units), list(p.districts)
    if not args.role:
        parser.error("one of --role, --persona or --sign-in is required")
    # Same variables as the services read, so the token matches what they verify.
    secret = os.environ.get("SKOLIT_JWT_SECRET") or DEV_JWT_SECRET
    print(mint(secret, subject=args.subject, roles=args.role, school_units=args.school, districts=args.district,
               name=args.name, ttl_seconds=args.ttl,
               issuer=os.environ.get("SKOLIT_JWT_ISSUER") or None, audience=os.environ.get("SKOLIT_JWT_AUDIENCE") or None))


if __name__ == "__main__":
    main()
