"""Where the local PostgreSQL keeps its files when root hands it to the postgres user."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityloop_deploy import postgres
from cityloop_deploy.paths import (
    STACK_DIR_ENV,
    PostgresPaths,
    StackPaths,
    UnreachableError,
    blocking_directory,
    fallback_postgres_home,
    find_repo_root,
    may_search,
    place_postgres,
    resolve_paths,
)
from cityloop_deploy.settings import StackSettings
from cityloop_deploy.tools import Account

REPO = find_repo_root()
OWNER = os.getuid()
STRANGER = OWNER + 4242
NO_GROUPS: frozenset[int] = frozenset()


@pytest.fixture
def private(tmp_path: Path) -> Iterator[Path]:
    """A folder its owner (the test's user, which every folder above tmp_path lets through)
    may not pass through, like /root for the postgres user; opened again for the clean-up."""
    folder = tmp_path / "private"
    folder.mkdir()
    folder.chmod(0o600)
    try:
        yield folder
    finally:
        folder.chmod(0o700)


def _account(home: Path) -> Account:
    return Account(uid=OWNER, gid=os.getgid(), groups=NO_GROUPS, home=home)


def _paths(stack_dir: Path) -> StackPaths:
    return resolve_paths({STACK_DIR_ENV: str(stack_dir)}, repo_root=REPO)


@pytest.mark.parametrize(
    ("mode", "uid", "in_group", "expected"),
    [
        (0o700, OWNER, False, True),
        # The owner's bits decide for the owner, even when everyone else may pass.
        (0o071, OWNER, True, False),
        (0o710, STRANGER, True, True),
        # And the group's for a member.
        (0o701, STRANGER, True, False),
        (0o701, STRANGER, False, True),
        (0o770, STRANGER, False, False),
    ],
)
def test_search_permission_comes_from_the_one_class_the_user_falls_in(
    tmp_path: Path, mode: int, uid: int, in_group: bool, expected: bool
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    folder.chmod(mode)
    gids = frozenset({folder.stat().st_gid}) if in_group else NO_GROUPS

    assert may_search(folder, uid, gids) is expected


def test_the_first_closed_folder_from_the_top_is_the_blocker(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "outer" / "inner"
    target = inner / "stack" / "postgres"
    target.mkdir(parents=True)
    assert blocking_directory(target, OWNER, NO_GROUPS) is None

    inner.chmod(0o600)
    assert blocking_directory(target, OWNER, NO_GROUPS) == inner
    outer.chmod(0o600)
    assert blocking_directory(target, OWNER, NO_GROUPS) == outer
    outer.chmod(0o700)
    inner.chmod(0o700)


def test_the_target_itself_and_folders_not_made_yet_do_not_block(tmp_path: Path) -> None:
    target = tmp_path / "postgres"
    target.mkdir(mode=0o600)

    assert blocking_directory(target, OWNER, NO_GROUPS) is None
    assert blocking_directory(tmp_path / "a" / "b" / "postgres", OWNER, NO_GROUPS) is None


def test_a_reachable_stack_keeps_postgres_under_it(tmp_path: Path) -> None:
    paths = _paths(tmp_path / "stack")
    configured = PostgresPaths(tmp_path / "stack" / "postgres")

    assert place_postgres(paths, _account(tmp_path / "pghome")) == configured
    # Not root: the server runs as the user itself, who can reach its own stack folder.
    assert place_postgres(paths, None) == configured


def test_an_unreachable_stack_puts_postgres_in_the_accounts_home(
    tmp_path: Path, private: Path
) -> None:
    pghome = tmp_path / "pghome"
    pghome.mkdir()
    stack_dir = private / "clone" / ".stack"

    pg = place_postgres(_paths(stack_dir), _account(pghome))

    assert pg.home.parent == pghome
    assert re.fullmatch(r"cityloop-[0-9a-f]{12}", pg.home.name)
    assert pg.link == stack_dir / "postgres"
    assert pg.data == pg.home / "data"
    assert place_postgres(_paths(stack_dir), _account(pghome)) == pg
    assert pg.home == fallback_postgres_home(stack_dir, pghome)
    other = place_postgres(_paths(private / "other" / ".stack"), _account(pghome))
    assert other.home.parent == pghome
    assert other.home != pg.home


def test_the_socket_path_stays_short_however_deep_the_stack_is(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 8) / ".stack"
    debian_home = Path("/var/lib/postgresql")
    settings = StackSettings(postgres_port=65432)
    moved = PostgresPaths(fallback_postgres_home(deep, debian_home))

    # 107: what fits in a unix socket address on Linux.
    assert len(str(postgres.socket_path(settings, _paths(deep).postgres))) > 107
    assert postgres.socket_path(settings, moved) == moved.home / "run" / ".s.PGSQL.65432"
    assert len(str(postgres.socket_path(settings, moved))) <= 107


def test_the_link_of_an_earlier_start_is_followed_even_once_the_way_is_open(
    tmp_path: Path, private: Path
) -> None:
    pghome = tmp_path / "pghome"
    pghome.mkdir()
    stack_dir = private / "clone" / ".stack"
    moved = place_postgres(_paths(stack_dir), _account(pghome)).home
    private.chmod(0o700)
    stack_dir.mkdir(parents=True)
    (stack_dir / "postgres").symlink_to(moved, target_is_directory=True)

    assert place_postgres(_paths(stack_dir), _account(pghome)) == PostgresPaths(moved)


def test_without_a_home_to_fall_back_on_the_error_says_what_to_do(
    tmp_path: Path, private: Path
) -> None:
    stack_dir = private / "clone" / ".stack"

    with pytest.raises(UnreachableError) as raised:
        place_postgres(_paths(stack_dir), _account(tmp_path / "missing"))

    message = str(raised.value)
    assert f"may not enter {private} (drw-------)" in message
    assert f"{tmp_path / 'missing'} does not exist" in message
    assert STACK_DIR_ENV in message
    assert f"chmod o+x {private}" in message


def test_a_home_out_of_reach_too_is_named_in_the_error(private: Path) -> None:
    pghome = private / "pghome"

    with pytest.raises(UnreachableError, match=f"may not enter {private} either"):
        place_postgres(_paths(private / "clone" / ".stack"), _account(pghome))
