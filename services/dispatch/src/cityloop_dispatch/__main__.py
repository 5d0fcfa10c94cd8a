"""``cityloop-dispatch``: migrate the dispatch schema, then serve."""

from cityloop_dispatch.app import SERVICE
from cityloop_shared.runtime.main import serve


def main() -> None:
    serve(SERVICE)


if __name__ == "__main__":
    main()
