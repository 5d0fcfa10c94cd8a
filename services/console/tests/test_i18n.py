"""Every label in both languages, every label a page asks for in the dictionary, and the
language switch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityloop_console import i18n
from cityloop_console.i18n import LANG_COOKIE, Translator, all_texts
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.registry import EVENT_TYPES

TEMPLATES = Path(i18n.__file__).parent / "templates"
CONSOLE_TEMPLATES = [p for p in TEMPLATES.rglob("*.html") if "supervisor" not in p.parts]
ASKED = re.compile(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*\)""")
NAMED = re.compile(r"""\bt\.name\(\s*["']([a-z_]+)["']\s*,\s*["']([a-z0-9_.]+)["']\s*\)""")


def test_every_text_is_given_in_chinese_and_english() -> None:
    for key, (zh, en) in all_texts().items():
        assert zh.strip(), f"{key} has no Chinese text"
        assert en.strip(), f"{key} has no English text"
        assert re.search(r"[\u4e00-\u9fff]", zh) or key.startswith("switch"), (
            f"{key}'s Chinese text {zh!r} holds no Chinese"
        )


@pytest.mark.parametrize("template", CONSOLE_TEMPLATES, ids=lambda p: p.name)
def test_every_label_a_page_asks_for_is_in_the_dictionary(template: Path) -> None:
    text = template.read_text()
    for lang in i18n.LANGUAGES:
        t = Translator(lang)
        for key in ASKED.findall(text):
            assert t(key), f"{template.name} asks for {key!r}"
        for group, code in NAMED.findall(text):
            assert t.name(group, code) != code, f"{template.name}: no {lang} name {group}.{code}"


def test_every_status_role_and_event_has_a_name_in_both_languages() -> None:
    for lang in i18n.LANGUAGES:
        t = Translator(lang)
        for status in CaseStatus:
            assert t.name("status", status.value) != status.value
        for role in Role:
            assert t.name("role", role.value) != role.value
        for event_type in EVENT_TYPES:
            assert t.name("event", event_type) != event_type, f"{lang}: {event_type}"


def test_a_missing_label_fails_loudly() -> None:
    with pytest.raises(KeyError):
        Translator("en")("no_such_label")


def test_the_pages_are_chinese_by_default_and_switch_to_english_by_a_link(
    client: TestClient,
) -> None:
    chinese = client.get("/login")
    assert '<html lang="zh-CN">' in chinese.text
    assert "登录" in chinese.text
    assert 'href="?lang=en"' in chinese.text

    english = client.get("/login?lang=en")
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text
    assert english.cookies[LANG_COOKIE] == "en"

    kept = client.get("/login")
    assert '<html lang="en">' in kept.text

    back = client.get("/login?lang=zh")
    assert '<html lang="zh-CN">' in back.text


def test_the_default_language_is_the_settings(console_for: Any, settings: Any) -> None:
    with console_for(settings.model_copy(update={"language": "en"})) as client:
        assert '<html lang="en">' in client.get("/login").text
