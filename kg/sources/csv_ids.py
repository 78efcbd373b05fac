"""Node ids in a user's CSV: namespaced (``drug:DB00945``), typed by the mapping, or put in a namespace."""

from __future__ import annotations

import pandas as pd

from kg.errors import ProblemLog
from kg.schema import NODE_TYPES, make_id
from kg.sources._io import CONTROL_CHARS

__all__ = ["parse_node_ids", "in_namespace", "type_prefixed"]


def parse_node_ids(raw: pd.Series, declared: pd.Series | str | None, lines: pd.Series,
                   log: ProblemLog, what: str) -> tuple[pd.Series, pd.Series]:
    """Namespaced ids and their types from raw ids and a declared type (fixed, per row, or none).

    Returns ``(ids, types)``; rows with a problem get nulls.
    """
    prefix = raw.str.split(":", n=1).str[0]
    prefix_is_type = type_prefixed(raw)
    if declared is None:
        types = prefix.where(prefix_is_type)
        bad = raw.notna() & types.isna()
        for line, value in zip(lines[bad], raw[bad]):
            log.add(f"{what} {value!r}: cannot tell its node type; use a namespaced id (TYPE:ID) "
                    f"or give the type in the mapping", line=int(line))
    else:
        types = pd.Series(declared, index=raw.index) if isinstance(declared, str) else declared
        clash = raw.notna() & prefix_is_type & (prefix != types)
        for line, value, t in zip(lines[clash], raw[clash], types[clash]):
            log.add(f"{what} {value!r} is namespaced as another type than {t!r}", line=int(line))
        types = types.where(~clash)
    missing = raw.isna()
    for line in lines[missing]:
        log.add(f"missing {what}", line=int(line))
    text = raw.fillna("").astype(str)
    local = text.where(~prefix_is_type, text.str.extract(r":(.*)$", expand=False).fillna(""))
    malformed = pd.Series(None, index=raw.index, dtype=object)
    malformed[raw.notna() & (text != text.str.strip())] = "has leading or trailing spaces"
    malformed[raw.notna() & malformed.isna() & text.str.contains(CONTROL_CHARS)] = "contains a control character"
    malformed[raw.notna() & malformed.isna() & (local.str.strip() == "")] = "is empty after its namespace"
    for line, value, reason in zip(lines[malformed.notna()], raw[malformed.notna()], malformed[malformed.notna()]):
        log.add(f"{what} {value!r} {reason}", line=int(line))
    ok = types.notna() & raw.notna() & malformed.isna()
    ids = pd.Series([make_id(t, r) if k else None for t, r, k in zip(types, raw, ok)],
                    index=raw.index, dtype=object)
    return ids, types.where(ok)


def in_namespace(raw: pd.Series, namespace: str | None) -> pd.Series:
    """Ids without a type prefix or the namespace get ``namespace:`` (an NPI column -> ``NPI:<npi>``)."""
    if namespace is None:
        return raw
    text = raw.astype("string")
    done = type_prefixed(text) | text.str.startswith(namespace + ":")
    return raw.where(raw.isna() | done.fillna(False), namespace + ":" + text)


def type_prefixed(raw: pd.Series) -> pd.Series:
    """Whether each id starts with a node type and a colon (``drug:DB00945``)."""
    return raw.str.split(":", n=1).str[0].isin(NODE_TYPES) & raw.str.contains(":", regex=False)
