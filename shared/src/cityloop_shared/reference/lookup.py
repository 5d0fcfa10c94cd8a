"""A command's category looked up in the site's dictionary, refused (422) naming the field
that gave it.

Kept apart from :mod:`cityloop_shared.reference.categories`: the refusal type belongs to the
stage's decisions, which load the reference data themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.reference.categories import Category, CategoryDictionary
from cityloop_shared.stage.decisions import Invalid


def known_category(
    categories: CategoryDictionary, code: str, kind: CaseKind | None, field: Sequence[str]
) -> Category:
    """The category with this code (and kind), or :class:`Invalid` at ``field``:
    ``ambiguous_category`` when the code names both a component and an event and no kind
    came, ``unknown_category`` when no edition of the dictionary has it."""
    try:
        found = categories.get(code, kind)
    except ValueError as ambiguous:
        raise Invalid(field, str(ambiguous), "ambiguous_category") from None
    if found is None:
        # Local extension codes are searched too, so the message names every edition.
        searched = ", ".join(edition.standard for edition in categories.editions)
        raise Invalid(field, f"no category {code} in {searched}", "unknown_category")
    return found
