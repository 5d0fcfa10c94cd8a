"""``cityloop-console``: serve the web console of the sites in its directory."""

from __future__ import annotations

import uvicorn

from cityloop_console.app import create_app
from cityloop_console.settings import ConsoleSettings
from cityloop_shared.logging import configure_logging
from cityloop_shared.runtime.main import refusing_built_in


def main() -> None:
    settings = ConsoleSettings()
    configure_logging(settings.log_format)
    app = refusing_built_in("cityloop-console", lambda: create_app(settings))
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
