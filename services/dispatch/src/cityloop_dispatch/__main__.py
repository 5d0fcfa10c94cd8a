"""``cityloop-dispatch``: migrate the dispatch schema, then serve."""

from pathlib import Path

from cityloop_dispatch.app import create_app
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.main import serve


def main() -> None:
    serve(Stage.DISPATCH, Path(__file__).parent / "migrations", create_app)


if __name__ == "__main__":
    main()
