"""``cityloop-evaluation``: migrate the evaluation schema, then follow, judge and serve;
``cityloop-evaluation rejudge``: judge every case kept again (after a reference data change)."""

import argparse
import asyncio

import uvicorn

from cityloop_evaluation.app import MIGRATIONS, create_app
from cityloop_evaluation.rejudge import rejudge
from cityloop_shared.adapters import open_database
from cityloop_shared.contract.topics import Stage
from cityloop_shared.logging import configure_logging, get_logger
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.main import refusing_built_in
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import ServiceSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="cityloop-evaluation", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["serve", "rejudge"], default="serve")
    command = parser.parse_args().command
    settings = ServiceSettings()
    configure_logging(settings.log_format, settings.log_level)
    schema = settings.database.schema_of(Stage.EVALUATION)
    if command == "rejudge":
        upgrade(settings.database, schema, MIGRATIONS)
        asyncio.run(_rejudge(settings, schema))
        return
    app = refusing_built_in("cityloop-evaluation", lambda: create_app(settings))
    upgrade(settings.database, schema, MIGRATIONS)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )


async def _rejudge(settings: ServiceSettings, schema: str) -> None:
    reference = (
        ReferenceData.load(settings.reference_dir)
        if settings.reference_dir
        else ReferenceData.demo()
    )
    database = open_database(settings.database, schema)
    try:
        judged = await rejudge(database, reference)
    finally:
        await database.dispose()
    get_logger("cityloop.evaluation").info("evaluation.rejudged", cases=judged)


if __name__ == "__main__":
    main()
