"""The IEC 62443 standards as data (62443-3-3, 62443-4-2, 62443-3-2).

Identifiers, short titles and SL applicability are facts checked against
public sources (docs/catalog-sources.md); descriptions are our own paraphrase.
"""

from zonewarden.catalog.ids import canonical_id, sort_key
from zonewarden.catalog.loader import load_catalog, read_overlay
from zonewarden.catalog.model import (
    COMPONENT_TYPES,
    KINDS,
    STANDARDS,
    TAGS,
    Catalog,
    FoundationalRequirement,
    Requirement,
)
from zonewarden.catalog.query import filter_requirements, find, required_at

__all__ = [
    "COMPONENT_TYPES",
    "KINDS",
    "STANDARDS",
    "TAGS",
    "Catalog",
    "FoundationalRequirement",
    "Requirement",
    "canonical_id",
    "filter_requirements",
    "find",
    "load_catalog",
    "read_overlay",
    "required_at",
    "sort_key",
]
