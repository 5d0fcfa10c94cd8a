"""The category dictionary (部件、事件分类代码): a versioned national list plus local extensions.

A category is keyed by (standard, kind, code). Under GB/T 47678.5-2026 a code has 5 digits,
a 2-digit major (大类) and a 3-digit minor (小类); majors 01–05 are component types (部件)
and 06–10 event matters (事件). The older GB/T 30428.2 list uses 4 digits (2 + 2), numbered
separately for components and events, so there only kind and code together name a category.
Cities add local codes in majors 90–99 from an extension file with the same columns.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.reference._sources import csv_rows, validate, yaml_mapping
from cityloop_shared.reference.codes import DEFAULT_CODE_WIDTH, is_digits
from cityloop_shared.reference.errors import ReferenceDataError, problem

GB_T_47678_5 = "GB/T 47678.5-2026"
GB_T_47678_5_VERSION = "2026"
NATIONAL_LIST = Path(__file__).with_name("data") / "categories-gb47678.5-2026.csv"
"""The GB/T 47678.5-2026 list shipped with CityLoop (250 categories)."""

COLUMNS = ("kind", "major_code", "major_name", "code", "name")
LOCAL_MAJORS = range(90, 100)
COMPONENT_MAJORS = range(1, 6)
EVENT_MAJORS = range(6, 11)
MANIFEST = "dictionary.yaml"
SHIPPED = "shipped"

Name = Annotated[str, Field(min_length=1)]


class Category(BaseModel):
    """One category of a standard; ``local`` marks a city's own extension code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    standard: Name
    major_code: str
    major_name: Name
    kind: CaseKind
    code: str
    name: Name
    local: bool = False

    @field_validator("major_code")
    @classmethod
    def _major_in_range(cls, value: str, info: ValidationInfo) -> str:
        if not is_digits(value, 2):
            raise ValueError("must be 2 digits")
        context = info.context or {}
        if context.get("local") and int(value) not in LOCAL_MAJORS:
            raise ValueError("must be 90–99: local extension codes use majors 90–99")
        national_5_digit = context.get("code_width") == 5 and not context.get("local")
        if national_5_digit and int(value) not in (*COMPONENT_MAJORS, *EVENT_MAJORS):
            raise ValueError(
                "is outside GB/T 47678.5 (01–05 components, 06–10 events); "
                "put local codes in majors 90–99 of an extension file"
            )
        return value

    @field_validator("kind")
    @classmethod
    def _kind_matches_major(cls, value: CaseKind, info: ValidationInfo) -> CaseKind:
        context = info.context or {}
        major = info.data.get("major_code")
        if context.get("code_width") == 5 and not context.get("local") and major is not None:
            expected = CaseKind.COMPONENT if int(major) in COMPONENT_MAJORS else CaseKind.EVENT
            if value is not expected:
                raise ValueError(f"does not match major {major}: it holds {expected} categories")
        return value

    @field_validator("code")
    @classmethod
    def _code_in_major(cls, value: str, info: ValidationInfo) -> str:
        width = (info.context or {}).get("code_width")
        widths = (width,) if width else (4, 5)
        if not any(is_digits(value, w) for w in widths):
            raise ValueError(f"must be {' or '.join(map(str, widths))} digits (major + minor)")
        major = info.data.get("major_code")
        if major is not None and not value.startswith(major):
            raise ValueError(f"must start with its major code {major}")
        return value

    @property
    def minor_code(self) -> str:
        return self.code[2:]

    @property
    def key(self) -> tuple[str, CaseKind, str]:
        return (self.standard, self.kind, self.code)


@dataclass(frozen=True)
class Edition:
    """A standard (or local extension) and the version of it that was loaded."""

    standard: str
    version: str
    local: bool = False


class CategoryDictionary:
    """The categories a site registers cases under: one national edition plus local extensions."""

    def __init__(
        self, editions: Sequence[Edition], code_width: int, categories: Iterable[Category]
    ):
        self.editions = tuple(editions)
        self.code_width = code_width
        self._categories = tuple(sorted(categories, key=lambda c: (c.code, c.kind, c.standard)))
        self._by_code: dict[str, list[Category]] = {}
        for category in self._categories:
            self._by_code.setdefault(category.code, []).append(category)

    @property
    def standard(self) -> str:
        """The national standard, e.g. ``GB/T 47678.5-2026``."""
        return self.editions[0].standard

    @property
    def version(self) -> str:
        return self.editions[0].version

    def get(self, code: str, kind: CaseKind | None = None) -> Category | None:
        """The category with this code (and kind); ``None`` when there is none.

        Raises ``ValueError`` when the code names both a component and an event (possible in the
        4-digit list) and no kind was given.
        """
        found = [c for c in self._by_code.get(code, []) if kind is None or c.kind is kind]
        if len(found) > 1:
            names = " and ".join(f"{c.kind} {c.name}" for c in found)
            raise ValueError(f"category code {code} names both {names}: give the kind")
        return found[0] if found else None

    def by_kind(self, kind: CaseKind) -> tuple[Category, ...]:
        return tuple(c for c in self._categories if c.kind is kind)

    def by_major(self, major_code: str, kind: CaseKind | None = None) -> tuple[Category, ...]:
        return tuple(
            c
            for c in self._categories
            if c.major_code == major_code and (kind is None or c.kind is kind)
        )

    def majors(self, kind: CaseKind | None = None) -> dict[str, str]:
        """Major codes and their names (大类), in code order."""
        return {
            c.major_code: c.major_name for c in self._categories if kind is None or c.kind is kind
        }

    def with_extension(self, path: Path, *, standard: str, version: str) -> Self:
        """This dictionary plus an operator's local codes (majors 90–99) from a CSV file.

        Refused when a local code collides with a code already in the dictionary.
        """
        local = _read(path, standard=standard, code_width=self.code_width, local=True)
        taken = {(c.kind, c.code): c for c in self._categories}
        problems = []
        for where, category in local:
            existing = taken.get((category.kind, category.code))
            if existing is not None:
                text = f"code '{category.code}' is already {existing.name} in {existing.standard}"
                problems.append(problem(path.name, where, text))
        if problems:
            raise ReferenceDataError(problems)
        edition = Edition(standard, version, local=True)
        return type(self)(
            (*self.editions, edition), self.code_width, (*self._categories, *(c for _, c in local))
        )

    def __iter__(self) -> Iterator[Category]:
        return iter(self._categories)

    def __len__(self) -> int:
        return len(self._categories)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code


def load_categories(
    path: Path = NATIONAL_LIST,
    *,
    standard: str = GB_T_47678_5,
    version: str = GB_T_47678_5_VERSION,
    code_width: int = DEFAULT_CODE_WIDTH,
) -> CategoryDictionary:
    """A national category list from a CSV file (columns kind, major_code, major_name, code, name).

    By default the shipped GB/T 47678.5-2026 list; pass ``code_width=4`` for a GB/T 30428.2 list.
    """
    if code_width not in (4, 5):
        raise ValueError(
            f"code_width must be 4 (GB/T 30428.2) or 5 (GB/T 47678.5), not {code_width}"
        )
    categories = _read(path, standard=standard, code_width=code_width, local=False)
    return CategoryDictionary(
        [Edition(standard, version)], code_width, (category for _, category in categories)
    )


def load_category_folder(folder: Path) -> CategoryDictionary:
    """A dictionary described by ``dictionary.yaml`` in ``folder``::

        national: {standard: GB/T 47678.5-2026, version: "2026", code_width: 5, file: shipped}
        extensions:
          - {standard: 青岛市地方扩展, version: "2026.1", file: qingdao-local.csv}

    ``file: shipped`` (or no file) takes the list shipped with CityLoop; other files are read
    from ``folder``.
    """
    manifest = folder / MANIFEST
    data, _ = yaml_mapping(manifest, allowed=["national", "extensions"])
    national = validate(_NationalEntry, MANIFEST, [("national", data.get("national") or {})])
    extensions = validate(
        _ExtensionEntry,
        MANIFEST,
        [(f"extensions #{n}", e) for n, e in enumerate(data.get("extensions") or [], start=1)],
    )
    entry = national[0][1]
    path = NATIONAL_LIST if entry.file == SHIPPED else folder / entry.file
    dictionary = load_categories(
        path, standard=entry.standard, version=entry.version, code_width=entry.code_width
    )
    for _, extension in extensions:
        dictionary = dictionary.with_extension(
            folder / extension.file, standard=extension.standard, version=extension.version
        )
    return dictionary


class _NationalEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    standard: Name = GB_T_47678_5
    version: Name = GB_T_47678_5_VERSION
    code_width: int = Field(DEFAULT_CODE_WIDTH, ge=4, le=5)
    file: Name = SHIPPED


class _ExtensionEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    standard: Name
    version: Name
    file: Name


def _read(path: Path, *, standard: str, code_width: int, local: bool) -> list[tuple[str, Category]]:
    rows = csv_rows(path, required=COLUMNS)
    records = validate(
        Category,
        path.name,
        [(where, {**row, "standard": standard, "local": local}) for where, row in rows],
        context={"code_width": code_width, "local": local},
    )
    problems: list[str] = []
    first_seen: dict[tuple[CaseKind, str], str] = {}
    major_names: dict[tuple[CaseKind, str], str] = {}
    for where, category in records:
        key = (category.kind, category.code)
        if key in first_seen:
            problems.append(
                problem(path.name, where, f"code '{category.code}' repeats {first_seen[key]}")
            )
        first_seen.setdefault(key, where)
        major = major_names.setdefault((category.kind, category.major_code), category.major_name)
        if major != category.major_name:
            text = (
                f"major_name '{category.major_name}' differs from '{major}', "
                f"the name given before to major {category.major_code}"
            )
            problems.append(problem(path.name, where, text))
    if problems:
        raise ReferenceDataError(problems)
    return records
