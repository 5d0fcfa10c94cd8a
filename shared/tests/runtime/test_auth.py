"""Signed tokens: who acts is read from the token, a forged or expired one is refused, and a
token checked once is not checked again until it expires."""

from __future__ import annotations

import time

import pytest
from fastapi import HTTPException

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.runtime import auth
from cityloop_shared.runtime.auth import TokenSigner

ACTOR = Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212")


def test_a_token_names_its_actor() -> None:
    signer = TokenSigner("secret", 60)
    assert signer.verify(signer.issue(ACTOR)) == ACTOR


def test_a_token_signed_with_another_secret_is_refused() -> None:
    forged = TokenSigner("another secret", 60).issue(ACTOR)
    with pytest.raises(HTTPException, match="signature"):
        TokenSigner("secret", 60).verify(forged)


def test_a_known_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = TokenSigner("secret", 60)
    token = signer.issue(ACTOR)
    assert signer.verify(token) == ACTOR
    later = time.time() + 61
    monkeypatch.setattr(auth.time, "time", lambda: later)
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    with pytest.raises(HTTPException, match="expired"):
        signer.verify(token)


def test_a_known_token_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = TokenSigner("secret", 60)
    token = signer.issue(ACTOR)
    signer.verify(token)
    checked: list[str] = []
    loads = signer._serializer.loads

    def counted(*args: object, **kwargs: object) -> object:
        checked.append("again")
        return loads(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(signer._serializer, "loads", counted)
    assert signer.verify(token) == ACTOR
    assert checked == []
