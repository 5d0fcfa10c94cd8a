"""GeoReport XML: the schemaless mapping of the JSON answers (the spec's "Spark convention").

A JSON object becomes an element per key, a JSON list a wrapper element around one element
per item, named after the wrapper (``services`` holds ``service`` elements).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}

# Characters XML 1.0 cannot carry at all; a pasted control character must not break a reply.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_xml(root: str, data: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """The document for ``data``, with the UTF-8 declaration the spec requires."""
    document: bytes = ET.tostring(_element(root, data), encoding="utf-8", xml_declaration=True)
    return document


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, Mapping):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list | tuple):
        for item in value:
            element.append(_element(ITEM_TAGS[tag], item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))
    return element
