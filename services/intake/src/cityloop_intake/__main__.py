"""``cityloop-intake``: migrate the intake schema, then serve."""

from cityloop_intake.app import SERVICE, create_app
from cityloop_shared.runtime.main import serve


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
