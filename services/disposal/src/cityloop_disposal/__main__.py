"""``cityloop-disposal``: migrate the disposal schema, then serve."""

from pathlib import Path

from cityloop_disposal.app import create_app
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.main import serve


def main() -> None:
    serve(Stage.DISPOSAL, Path(__file__).parent / "migrations", create_app)


if __name__ == "__main__":
    main()
