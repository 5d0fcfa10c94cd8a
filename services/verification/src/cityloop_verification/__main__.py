"""``cityloop-verification``: migrate the verification schema, then serve."""

from pathlib import Path

from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.main import serve
from cityloop_verification.app import create_app


def main() -> None:
    serve(Stage.VERIFICATION, Path(__file__).parent / "migrations", create_app)


if __name__ == "__main__":
    main()
