"""The one error reference data raises when an operator's file is refused (参考数据校验错误)."""

from collections.abc import Iterable


class ReferenceDataError(ValueError):
    """Reference data refused on load.

    Each problem is one line naming the file, the record (``row 7``, ``entry 3``,
    ``feature 3``) and the field, e.g.
    ``grids.geojson feature 3: grid_code '37021200' must be 15 digits``.
    All problems found in a file are reported together, so an operator fixes them in one go.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


def problem(source: str, where: str | None, text: str) -> str:
    """One problem line: ``<file> <record>: <text>`` (the record may be absent)."""
    return f"{source} {where}: {text}" if where else f"{source}: {text}"
