"""The portal's WSDL, bundled as package data (published by the Ministry of Justice; the client
never fetches it over the network)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

__all__ = ["NS", "WSDL_PATH", "institutions", "schema_element"]

WSDL_PATH = Path(__file__).parent / "portalquery-just-ro.wsdl"
NS = "portalquery.just.ro"
_XS = "http://www.w3.org/2001/XMLSchema"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@cache
def schema_element() -> etree._Element:
    """The ``<s:schema>`` of the WSDL's types."""
    root = etree.parse(str(WSDL_PATH), _parser()).getroot()
    found = root.find(f".//{{{_XS}}}schema")
    assert found is not None
    return found


@cache
def enumeration(type_name: str) -> tuple[str, ...]:
    node = schema_element().find(f"{{{_XS}}}simpleType[@name='{type_name}']")
    assert node is not None
    return tuple(str(e.get("value")) for e in node.iter(f"{{{_XS}}}enumeration"))


def institutions() -> frozenset[str]:
    """Every ``Institutie`` code the WSDL knows."""
    return frozenset(enumeration("Institutie"))
