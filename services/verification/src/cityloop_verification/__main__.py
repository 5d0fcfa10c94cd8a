"""``cityloop-verification``: migrate the verification schema, then serve."""

from cityloop_shared.runtime.main import serve
from cityloop_verification.app import SERVICE


def main() -> None:
    serve(SERVICE)


if __name__ == "__main__":
    main()
