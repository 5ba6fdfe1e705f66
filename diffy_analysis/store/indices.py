"""Create Diffy's index templates and indices on first use, and add osquery column mappings.

Everything here is idempotent: templates are (re)written only when missing or older than
``MAPPING_VERSION``, indices are created when missing (clusters may forbid auto-creation), and
column mappings are only ever added, always with the same fixed type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from diffy_analysis.extras import missing_extra

try:
    from elasticsearch import BadRequestError, NotFoundError
except ImportError as err:
    raise missing_extra("elasticsearch", "es", "Elasticsearch") from err


from diffy_analysis.store.mapping import (
    MAPPING_VERSION,
    MAX_MAPPED_COLUMNS,
    IndexNames,
    column_mapping,
    is_mappable_column,
)


def ensure_templates(client: Any, names: IndexNames) -> list[str]:
    """Put every Diffy index template that is missing or outdated; return the names written."""
    written = []
    for name, body in names.templates().items():
        current = _existing_template_version(client, name)
        if current is not None and current >= MAPPING_VERSION:
            continue
        client.indices.put_index_template(name=name, **body)
        written.append(name)
    return written


def _existing_template_version(client: Any, name: str) -> int | None:
    try:
        found = client.indices.get_index_template(name=name)
    except NotFoundError:
        return None
    for entry in found.body.get("index_templates", []):
        if entry.get("name") == name:
            version = entry.get("index_template", {}).get("version")
            return int(version) if isinstance(version, int) else 0
    return None


def ensure_indices(client: Any, indices: Iterable[str]) -> None:
    """Create the indices that do not exist yet (their template supplies the mapping)."""
    for index in sorted(set(indices)):
        if client.indices.exists(index=index):
            continue
        try:
            client.indices.create(index=index)
        except BadRequestError as err:
            # Another writer created it between our check and our create: fine.
            if "already_exists" not in str(getattr(err, "error", "")) + str(err):
                raise


def mapped_columns(client: Any, index: str) -> set[str]:
    """The osquery columns already mapped in ``index``."""
    found = client.indices.get_mapping(index=index).body
    columns: set[str] = set()
    for entry in found.values():
        osquery = entry.get("mappings", {}).get("properties", {}).get("osquery", {})
        columns.update(osquery.get("properties", {}))
    return columns


def add_columns(client: Any, index: str, numeric: Mapping[str, bool]) -> list[str]:
    """Map new osquery columns of ``index`` (``numeric``: column -> all values numeric).

    Returns the columns that were left unmapped (odd names, or over ``MAX_MAPPED_COLUMNS``): their
    values stay in ``_source`` and are returned by read-back, but cannot be searched field by field.
    """
    existing = mapped_columns(client, index)
    new: dict[str, Any] = {}
    unmapped = []
    for column in sorted(numeric):
        if column in existing:
            continue
        if not is_mappable_column(column) or len(existing) + len(new) >= MAX_MAPPED_COLUMNS:
            unmapped.append(column)
            continue
        new[column] = column_mapping(numeric[column])
    if new:
        try:
            client.indices.put_mapping(index=index, properties={"osquery": {"properties": new}})
        except BadRequestError:
            # E.g. a field limit lowered by someone else: the rows are still indexed (the values
            # stay in _source and read back), only these columns are not searchable by field.
            unmapped.extend(new)
    return unmapped
