"""Photos: uploaded to the console, referenced by the absolute URL commands carry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cityloop_console.media import image_type
from cityloop_console.settings import ConsoleSettings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def test_a_photo_is_stored_and_served_at_the_uri_it_answers(
    sign_in: Any, settings: ConsoleSettings
) -> None:
    client = sign_in("370212", "department", "370212-sanitation")

    answer = client.post("/media", files={"file": ("after.jpg", JPEG, "image/jpeg")})

    assert answer.status_code == 201
    found = answer.json()
    assert found["media_type"] == "image/jpeg"
    assert found["uri"].startswith("http://console.test/media/")
    served = client.get(found["uri"])
    assert served.status_code == 200
    assert served.content == JPEG
    assert served.headers["content-type"] == "image/jpeg"
    assert len(list(Path(settings.media_dir).iterdir())) == 1


def test_each_photo_gets_an_id_of_its_own(sign_in: Any) -> None:
    client = sign_in("370212", "department", "370212-sanitation")

    first = client.post("/media", files={"file": ("a.png", PNG, "image/png")}).json()
    second = client.post("/media", files={"file": ("a.png", PNG, "image/png")}).json()

    assert first["uri"] != second["uri"]


def test_what_is_not_an_image_is_refused_naming_the_field(sign_in: Any) -> None:
    client = sign_in("370212", "department", "370212-sanitation")

    text = client.post("/media", files={"file": ("x.txt", b"hello", "text/plain")})
    disguised = client.post("/media", files={"file": ("x.png", b"<html>", "image/png")})

    for answer in (text, disguised):
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "file"]


def test_a_photo_over_the_size_limit_is_refused(
    tmp_path: Path, console_for: Callable[[ConsoleSettings], TestClient]
) -> None:
    settings = ConsoleSettings(
        directory={"370212": {}}, media_dir=tmp_path, media_max_bytes=100, mode="development"
    )
    with console_for(settings) as client:
        client.post("/login", data={"site": "370212", "role": "leader", "person": "leader-1"})
        answer = client.post("/media", files={"file": ("big.png", PNG * 3, "image/png")})

    assert answer.status_code == 413
    assert list(tmp_path.iterdir()) == []


def test_photos_need_a_session(client: TestClient) -> None:
    assert client.post("/media", files={"file": ("a.png", PNG, "image/png")}).status_code == 401
    assert client.get("/media/AAAAAAAAAAAAAAAAAAAAAAAA.png").status_code == 401


def test_only_ids_the_console_made_are_served(sign_in: Any) -> None:
    client = sign_in("370212", "leader", "leader-1")

    assert client.get("/media/..%2Fsecrets.png").status_code == 404
    assert client.get("/media/AAAAAAAAAAAAAAAAAAAAAAAA.png").status_code == 404


def test_an_upload_is_an_image_when_its_first_bytes_agree() -> None:
    assert image_type("image/png", PNG[:16]) == "image/png"
    assert image_type("image/jpeg; charset=binary", JPEG[:16]) == "image/jpeg"
    assert image_type("image/png", JPEG[:16]) is None
    assert image_type("image/svg+xml", b"<svg") is None
    assert image_type(None, PNG[:16]) is None
