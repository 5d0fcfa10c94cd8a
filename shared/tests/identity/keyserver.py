"""A small HTTP server publishing documents, standing in for a site's or an identity
provider's well-known endpoints in tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Documents:
    """Paths to JSON documents; a test may change them while the server runs."""

    def __init__(self) -> None:
        self.by_path: dict[str, Any] = {}
        self.requests: list[str] = []
        self.url = ""


@contextmanager
def serving() -> Iterator[Documents]:
    documents = Documents()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            documents.requests.append(self.path)
            if self.path not in documents.by_path:
                self.send_error(404)
                return
            body = json.dumps(documents.by_path[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    documents.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield documents
    finally:
        server.shutdown()
        server.server_close()
