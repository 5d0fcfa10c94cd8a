"""``cityloop-sync``: migrate the sync schema, then mirror, project and serve."""

import uvicorn

from cityloop_shared.contract.topics import Stage
from cityloop_shared.logging import configure_logging
from cityloop_shared.runtime.main import refusing_built_in
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import ServiceSettings
from cityloop_sync.app import MIGRATIONS, create_app


def main() -> None:
    settings = ServiceSettings()
    configure_logging(settings.log_format, settings.log_level)
    app = refusing_built_in("cityloop-sync", lambda: create_app(settings))
    upgrade(settings.database, settings.database.schema_of(Stage.SYNC), MIGRATIONS)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
