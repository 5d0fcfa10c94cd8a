"""`cityloop-token`: a site's signing key and its people's tokens, for operators.

    cityloop-token keygen --site 370212 --out keys/          # keys/370212.jwk (private, 0600)
                                                             # keys/370212.jwks.json (public)
    cityloop-token issue --key keys/370212.jwk --site 370212 --role duty_chief --id chief-1

The public key set is what the site's services are given (``CITYLOOP_AUTH_JWKS_FILE``) and
publish; the private key stays with whoever issues tokens. A city with its own identity
server configures it as a trusted issuer instead (docs/security.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.identity.keys import SiteKey, key_set
from cityloop_shared.identity.roster import unknown_actor
from cityloop_shared.identity.tokens import TokenIssuer, site_issuer
from cityloop_shared.reference.bundle import ReferenceData


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityloop-token", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="make a site's signing key and public key set")
    keygen.add_argument("--site", required=True)
    keygen.add_argument("--out", type=Path, required=True, help="folder for the two files")
    issue = commands.add_parser("issue", help="sign a token for one of the site's people")
    issue.add_argument("--key", type=Path, required=True, help="the site's private key (.jwk)")
    issue.add_argument("--site", required=True, help="the site the person works at")
    issue.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r is not Role.SYSTEM]
    )
    issue.add_argument("--id", required=True, help="the person's id")
    issue.add_argument("--department", help="the department, for department roles")
    issue.add_argument("--issuer", help="the site's issuer name (default cityloop:<site>)")
    issue.add_argument("--audience", default="cityloop")
    issue.add_argument("--hours", type=float, default=12.0)
    issue.add_argument("--reference-dir", type=Path, help="reference data to check the person in")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keygen":
        key = SiteKey.generate(args.site)
        key.save(args.out / f"{args.site}.jwk")
        (args.out / f"{args.site}.jwks.json").write_text(json.dumps(key_set(key), indent=2))
        print(f"{args.site}.jwk (private) and {args.site}.jwks.json (public) in {args.out}")
        return 0
    key = SiteKey.load(args.key)
    site = args.site
    try:
        actor = Actor(id=args.id, role=Role(args.role), site=site, department_id=args.department)
    except ValidationError as error:
        print(f"cityloop-token: {error}", file=sys.stderr)
        return 2
    reference = (
        ReferenceData.load(args.reference_dir) if args.reference_dir else ReferenceData.demo()
    )
    unknown = unknown_actor(actor, reference)
    if unknown is not None:
        print(f"cityloop-token: {unknown}", file=sys.stderr)
        return 2
    issuer = TokenIssuer(
        key,
        issuer=args.issuer or site_issuer(site),
        audience=args.audience,
        lifetime_seconds=int(args.hours * 3600),
    )
    print(issuer.issue(actor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
