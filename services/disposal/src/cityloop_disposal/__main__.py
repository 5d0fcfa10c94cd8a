"""``cityloop-disposal``: migrate the disposal schema, then serve."""

from cityloop_disposal.app import SERVICE
from cityloop_shared.runtime.main import serve


def main() -> None:
    serve(SERVICE)


if __name__ == "__main__":
    main()
