"""Codes the reference data is keyed by: divisions, unit grids, areas and category selectors.

- Administrative division code (行政区划代码, GB/T 2260): 6 digits, e.g. 370212 崂山区.
- Unit grid code (单元网格代码): 15 digits = 6 division + 3 street (街道) + 3 community (社区)
  + 3 sequence.
- Area: ``*`` or a grid code prefix of 6 (district), 9 (street), 12 (community) or 15 (one grid)
  digits.
- Category selector: ``*``, a 2-digit major code (大类) or a full category code.
"""

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

ANY = "*"
"""Matches every category or every area."""

DEFAULT_CODE_WIDTH = 5
"""GB/T 47678.5-2026 category codes: 2-digit major + 3-digit minor."""

AREA_LENGTHS = (6, 9, 12, 15)


def is_digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def _number_as_text(value: object) -> object:
    # YAML reads an unquoted 370212 as a number; division and grid codes never start with 0,
    # so the number's digits are the code.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _quoted_category(value: object) -> object:
    # Unquoted, YAML reads 06010 as a number and drops the leading 0 (01001 even as octal).
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("was read as a number: write codes in quotes, e.g. '06010'")
    return value


def check_division_code(value: str) -> str:
    if not is_digits(value, 6):
        raise ValueError("must be a 6-digit administrative division code (GB/T 2260)")
    return value


def check_grid_code(value: str) -> str:
    if not is_digits(value, 15):
        raise ValueError("must be 15 digits (6 division + 3 street + 3 community + 3 sequence)")
    return value


def check_area(value: str) -> str:
    if value == ANY or (value.isascii() and value.isdigit() and len(value) in AREA_LENGTHS):
        return value
    raise ValueError(
        "must be '*' or a grid code prefix of 6 (district), 9 (street), 12 (community) "
        "or 15 (grid) digits"
    )


def check_category_selector(value: str, info: ValidationInfo) -> str:
    """A selector for the code width in the validation context (``code_width``, default 5)."""
    width = (info.context or {}).get("code_width", DEFAULT_CODE_WIDTH)
    if value == ANY or is_digits(value, 2) or is_digits(value, width):
        return value
    raise ValueError(f"must be '*', a 2-digit major code or a {width}-digit category code")


DivisionCode = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(check_division_code)]
GridCodeText = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(check_grid_code)]
Area = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(check_area)]
CategorySelector = Annotated[
    str, BeforeValidator(_quoted_category), AfterValidator(check_category_selector)
]


def selectors_for(category_code: str) -> tuple[str, str, str]:
    """The selectors matching a category code, most specific first: code, major, ``*``."""
    return (category_code, category_code[:2], ANY)


def selector_rank(selector: str) -> int:
    """How specific a category selector is: ``*`` 0, major 1, full code 2."""
    if selector == ANY:
        return 0
    return 1 if len(selector) == 2 else 2


@dataclass(frozen=True, slots=True)
class GridCode:
    """A unit grid code (单元网格代码) split into its parts."""

    division: str
    """6-digit administrative division code of the district (区)."""
    street: str
    """3-digit street or town (街道/乡镇) within the district."""
    community: str
    """3-digit community (社区) within the street."""
    sequence: str
    """3-digit sequence of the grid within the community."""

    @classmethod
    def parse(cls, code: str) -> "GridCode":
        check_grid_code(code)
        return cls(code[:6], code[6:9], code[9:12], code[12:])

    def __str__(self) -> str:
        return self.division + self.street + self.community + self.sequence

    @property
    def street_area(self) -> str:
        """The 9-digit area prefix of the grid's street."""
        return self.division + self.street

    @property
    def community_area(self) -> str:
        """The 12-digit area prefix of the grid's community."""
        return self.street_area + self.community

    def areas(self) -> tuple[str, str, str, str, str]:
        """Every area containing the grid, most specific first, ending with ``*``."""
        return (str(self), self.community_area, self.street_area, self.division, ANY)
