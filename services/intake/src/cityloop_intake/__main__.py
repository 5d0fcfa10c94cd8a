"""``cityloop-intake``: migrate the intake schema, then serve."""

from pathlib import Path

from cityloop_intake.app import create_app
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.main import serve


def main() -> None:
    serve(Stage.INTAKE, Path(__file__).parent / "migrations", create_app)


if __name__ == "__main__":
    main()
