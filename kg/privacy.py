"""Patient privacy: keyed pseudonyms for patient ids in everything rxkg writes for people to read.

Exports and reports replace ``patient:<source>:<id>`` by ``patient:anon:<hmac>``, a
keyed hash (HMAC-SHA256): stable across runs with one key, so exports can be
joined, but not reversible or recomputable without the key. A patient's name and
personal attributes are left out, birth and death dates are reduced to the year, and
the times of a patient's edges (medications, conditions) to the month. The key is
configuration, never data in the repository:

1. an explicit key (``Pseudonymiser(key)``),
2. else ``$RXKG_PSEUDONYM_KEY``,
3. else the key file ``$RXKG_HOME/pseudonym.key`` (default ``~/.config/rxkg``),
   created with 32 random bytes (mode 0600) the first time it is needed.

The graph store itself (Parquet) keeps the source ids: the models need them, and it
stays with the process's owner. ``privacy="clear"`` exports them on request;
``privacy="drop"`` leaves patients out entirely.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Literal

import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph

__all__ = ["Pseudonymiser", "PrivacyMode", "PRIVACY_MODES", "apply_privacy", "key_file_path"]

PrivacyMode = Literal["pseudonymise", "clear", "drop"]
PRIVACY_MODES: tuple[str, ...] = ("pseudonymise", "clear", "drop")
# A quoted id is taken whole up to its closing quote (ids may hold spaces: "patient:demo:Jane Doe");
# a bare one up to the next space or delimiter.
_PATIENT_ID = re.compile(r"(?<=')patient:[^'\n]+(?=')|(?<=\")patient:[^\"\n]+(?=\")"
                         r"|patient:[^\s,;|>\"'\]\)]+")
_PERSONAL_DATES = ("birth_date", "death_date")
#: Patient columns that may leave the process: the id (pseudonymised), type, and the years above.
_PATIENT_COLUMNS_KEPT = ("id", "type", *_PERSONAL_DATES)


def key_file_path() -> Path:
    home = os.environ.get("RXKG_HOME")
    return (Path(home) if home else Path.home() / ".config" / "rxkg") / "pseudonym.key"


def _configured_key() -> bytes:
    env = os.environ.get("RXKG_PSEUDONYM_KEY")
    if env:
        return env.encode("utf-8")
    path = key_file_path()
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise KGError(f"{path}: cannot create or read the pseudonym key ({reason}); set RXKG_HOME to a "
                      f"writable folder or RXKG_PSEUDONYM_KEY to a secret") from None
    if len(key) < 16:
        raise KGError(f"{path}: pseudonym key is too short (at least 16 characters)")
    return key.encode("utf-8")


class Pseudonymiser:
    """Replaces patient ids by keyed pseudonyms (``patient:anon:<20 hex>``)."""

    def __init__(self, key: bytes | str | None = None) -> None:
        if key is None:
            key = _configured_key()
        self._key = key.encode("utf-8") if isinstance(key, str) else key
        if len(self._key) < 16:
            raise KGError("a pseudonym key needs at least 16 characters")
        self._cache: dict[str, str] = {}

    def pseudonym(self, node_id: str) -> str:
        """The pseudonym of one patient id (other ids are returned unchanged)."""
        if not node_id.startswith("patient:") or node_id.startswith("patient:anon:"):
            return node_id
        out = self._cache.get(node_id)
        if out is None:
            digest = hmac.new(self._key, node_id.encode("utf-8"), hashlib.sha256).hexdigest()
            out = self._cache[node_id] = f"patient:anon:{digest[:20]}"
        return out

    def text(self, value: str) -> str:
        """``value`` with every patient id in it replaced (report records, messages)."""
        return _PATIENT_ID.sub(lambda m: self.pseudonym(m.group(0)), value)

    def column(self, values: pd.Series) -> pd.Series:
        """A text column with patient ids replaced (categorical columns on their categories)."""
        return self._map(values, self.text)

    def ids(self, values: pd.Series) -> pd.Series:
        """An id column with each whole patient id replaced (the same pseudonym as its node)."""
        return self._map(values, self.pseudonym)

    @staticmethod
    def _map(values: pd.Series, replace) -> pd.Series:
        if isinstance(values.dtype, pd.CategoricalDtype):
            cats = values.cat.categories
            new = [replace(str(c)) for c in cats]
            if len(set(new)) == len(new):
                return values.cat.rename_categories(new)
            values = values.astype(object)
        return values.map(lambda v: replace(v) if isinstance(v, str) else v)

    def graph(self, graph: KnowledgeGraph) -> KnowledgeGraph:
        """A copy of ``graph`` with patient ids pseudonymised and personal dates cut to the year."""
        nodes = graph.nodes.copy()
        is_patient = (nodes["type"] == "patient").to_numpy()
        if not is_patient.any():
            return graph
        nodes.loc[is_patient, "id"] = [self.pseudonym(i) for i in nodes.loc[is_patient, "id"]]
        for col in nodes.columns:
            if col not in _PATIENT_COLUMNS_KEPT:  # names and personal attributes stay inside
                nodes[col] = nodes[col].astype(object).where(~is_patient, None)
        for col in _PERSONAL_DATES:
            if col in nodes.columns:
                nodes[col] = nodes[col].astype(object).where(nodes[col].isna(), nodes[col].astype(str).str[:4])
        edges = {}
        for et, frame in graph.edges.items():
            if "patient" in (et.src, et.dst):
                frame = frame.copy()
                for end, node_type in (("src", et.src), ("dst", et.dst)):
                    if node_type == "patient":
                        frame[end] = self.ids(frame[end])
                for col in frame.columns:  # when a patient started or stopped something: the month
                    if pd.api.types.is_datetime64_any_dtype(frame[col]):
                        frame[col] = frame[col].dt.to_period("M").dt.to_timestamp()
            edges[et] = frame
        tables = {name: self._table(t) for name, t in graph.tables.items()}
        return KnowledgeGraph(nodes, edges, tables)

    def _table(self, table: pd.DataFrame) -> pd.DataFrame:
        if "patient" not in table.columns:
            return table
        out = table.copy()
        out["patient"] = self.ids(out["patient"])
        for col in out.columns:  # as in the edges: when something happened to a patient, the month
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                out[col] = out[col].dt.to_period("M").dt.to_timestamp()
        return out


def drop_patients(graph: KnowledgeGraph) -> KnowledgeGraph:
    """A copy of ``graph`` without patient nodes, their edges, or tables about patients."""
    nodes = graph.nodes[graph.nodes["type"] != "patient"].reset_index(drop=True)
    edges = {et: f for et, f in graph.edges.items() if "patient" not in (et.src, et.dst)}
    tables = {n: t for n, t in graph.tables.items() if "patient" not in t.columns}
    return KnowledgeGraph(nodes, edges, tables)


def apply_privacy(graph: KnowledgeGraph, mode: PrivacyMode = "pseudonymise",
                  pseudonymiser: Pseudonymiser | None = None) -> KnowledgeGraph:
    """The graph as it may leave the process under ``mode``."""
    if mode not in PRIVACY_MODES:
        raise KGError(f"privacy must be one of {list(PRIVACY_MODES)}, got {mode!r}")
    if mode == "clear":
        return graph
    if mode == "drop":
        return drop_patients(graph)
    has_patients = graph.nodes["type"].eq("patient").any()
    return (pseudonymiser or Pseudonymiser()).graph(graph) if has_patients else graph
