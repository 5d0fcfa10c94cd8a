"""``cityloop-casefile``: migrate the casefile schema, then serve."""

from pathlib import Path

from cityloop_casefile.app import create_app
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.main import serve


def main() -> None:
    serve(Stage.CASEFILE, Path(__file__).parent / "migrations", create_app)


if __name__ == "__main__":
    main()
