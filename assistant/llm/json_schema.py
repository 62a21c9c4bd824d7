"""Rules for the JSON schemas handed to generate_json.

A small model under a grammar can keep a string or an array going until it hits max_tokens and leave JSON
that does not parse; a bound on every string and array makes a finished object always reachable.
"""

from __future__ import annotations

from typing import Any


def unbounded_parts(schema: Any, where: str = "$") -> list[str]:
    """Paths of the strings without maxLength and arrays without maxItems in `schema` (empty when it is safe)."""
    if not isinstance(schema, dict):
        return []
    found = []
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "string" in kinds and "maxLength" not in schema and "enum" not in schema and "const" not in schema:
        found.append(where)
    if "array" in kinds and "maxItems" not in schema:
        found.append(where)
    for name, sub in (schema.get("properties") or {}).items():
        found += unbounded_parts(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        found += unbounded_parts(schema["items"], f"{where}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            found += unbounded_parts(sub, f"{where}.{key}[{i}]")
    for name, sub in (schema.get("$defs") or schema.get("definitions") or {}).items():
        found += unbounded_parts(sub, f"{where}.$defs.{name}")
    return found


def require_bounded(schema: dict[str, Any]) -> None:
    parts = unbounded_parts(schema)
    if parts:
        raise ValueError("JSON schema needs maxLength on every string and maxItems on every array; missing at: "
                         + ", ".join(parts))
