"""No silent defaults: outside development mode a service refuses to start with a built-in
signing key, Open311 key or database password, and says which setting to set."""

from __future__ import annotations

import json

from sqlalchemy.engine import make_url

from cityloop_shared.identity.keys import is_development_key
from cityloop_shared.settings import RunMode, ServiceSettings

BUILT_IN_DATABASE_PASSWORDS = frozenset({"cityloop", "postgres", "password", ""})


class BuiltInSettings(RuntimeError):
    """Settings left at values anyone can read in CityLoop's source; the message names them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "refusing to start outside development mode (CITYLOOP_MODE=development):\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )
        self.problems = problems


def built_in_settings(settings: ServiceSettings) -> list[str]:
    """What in ``settings`` is built in, one line naming the setting each."""
    problems = []
    jwks_file = settings.auth.jwks_file
    if jwks_file is None:
        problems.append(
            "CITYLOOP_AUTH_JWKS_FILE is not set: tokens would be checked with the built-in "
            "development key; set it to the site's public keys (cityloop-token keygen)"
        )
    elif any(is_development_key(jwk) for jwk in json.loads(jwks_file.read_text())["keys"]):
        problems.append(f"CITYLOOP_AUTH_JWKS_FILE ({jwks_file}) holds a built-in development key")
    url = make_url(settings.database.url)
    if (
        url.get_backend_name() == "postgresql"
        and (url.password or "") in BUILT_IN_DATABASE_PASSWORDS
    ):
        problems.append(
            "CITYLOOP_DATABASE_URL has a built-in or empty password; give the service's "
            "database user a password of its own"
        )
    return problems


def refuse_built_in(settings: ServiceSettings, *more: str) -> None:
    """Raise :class:`BuiltInSettings` naming every built-in setting (``more``: a service's own
    findings), unless the mode is development."""
    if settings.mode is RunMode.DEVELOPMENT:
        return
    problems = [*built_in_settings(settings), *more]
    if problems:
        raise BuiltInSettings(problems)
