"""Photos the loop's people attach (上报照片, 处置照片): stored by the console under a random
id, referenced by the absolute URL commands carry in ``attachments`` and ``evidence``."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from cityloop_console.web import session_of, settings_of

router = APIRouter()

IMAGE_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
}
_MEDIA_TYPE = {suffix: media_type for media_type, suffix in IMAGE_TYPES.items()}
_SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(jpg|png|webp|gif)$")


def image_type(declared: str | None, head: bytes) -> str | None:
    """The image type of an upload, when its first bytes agree with what it declares."""
    media_type = (declared or "").split(";")[0].strip().lower()
    if media_type not in IMAGE_TYPES:
        return None
    if media_type == "image/webp":
        return media_type if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else None
    return media_type if head.startswith(_SIGNATURES[media_type]) else None


# Plain functions: FastAPI runs them on its thread pool, off the event loop, as they read and
# write files.
@router.post("/media")
def upload(request: Request, file: Annotated[UploadFile, File()]) -> Response:
    if session_of(request) is None:
        return JSONResponse({"detail": "sign in first: no console session"}, status_code=401)
    settings = settings_of(request)
    data = file.file.read(settings.media_max_bytes + 1)
    if len(data) > settings.media_max_bytes:
        return _refused(f"a photo may be at most {settings.media_max_bytes} bytes", 413)
    media_type = image_type(file.content_type, data[:16])
    if media_type is None:
        return _refused("only JPEG, PNG, WebP or GIF photos are taken", 422)
    name = secrets.token_urlsafe(18) + IMAGE_TYPES[media_type]
    folder: Path = settings.media_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return JSONResponse(
        {"uri": f"{str(request.base_url).rstrip('/')}/media/{name}", "media_type": media_type},
        status_code=201,
    )


@router.get("/media/{name}")
def download(name: str, request: Request) -> Response:
    if session_of(request) is None:
        return JSONResponse({"detail": "sign in first: no console session"}, status_code=401)
    path = settings_of(request).media_dir / name
    if not _ID.match(name) or not path.is_file():
        return JSONResponse({"detail": f"no photo {name}"}, status_code=404)
    return FileResponse(path, media_type=_MEDIA_TYPE[path.suffix])


def _refused(detail: str, status_code: int) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": ["body", "file"], "msg": detail, "type": "invalid_photo"}]},
        status_code=status_code,
    )
