"""Mapping rates for the build report: rows and distinct codes mapped, every unmapped code counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

__all__ = ["MappingTally"]


@dataclass
class MappingTally:
    """Counts for one mapped field of one source (say, Synthea medication codes to DrugBank).

    ``excluded`` rows are outside the field's scope by rule (ICD-9 V and E codes
    describe circumstances, not diseases) and are counted apart from the rate.
    """

    field: str
    target: str
    rows: int = 0
    mapped_rows: int = 0
    excluded_rows: int = 0
    excluded_reason: str | None = None
    codes: set[str] = field(default_factory=set)
    mapped_codes: set[str] = field(default_factory=set)
    unmapped: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)

    def add(self, codes: Iterable[str], mapped: Iterable[bool], methods: Iterable[str] | None = None) -> None:
        """Record rows: each row's code (with its label, if any) and whether it mapped."""
        # Object arrays throughout: iterating pandas' Arrow strings one by one costs 0.3 s on CMS.
        values = codes.to_numpy(dtype=object) if isinstance(codes, (pd.Series, pd.Index)) \
            else np.asarray(list(codes), dtype=object)
        frame = pd.DataFrame({"code": pd.Series(values, dtype=object),
                              "ok": np.fromiter(mapped, dtype=bool, count=len(values))})
        self.rows += len(frame)
        self.mapped_rows += int(frame["ok"].sum())
        self.codes.update(frame["code"].unique())
        self.mapped_codes.update(frame.loc[frame["ok"], "code"].unique())
        self.unmapped.update(frame.loc[~frame["ok"], "code"].value_counts().to_dict())
        if methods is not None:
            self.methods.update(pd.Series(list(methods), dtype=object).value_counts().to_dict())

    def exclude(self, n: int, reason: str) -> None:
        self.excluded_rows += n
        self.excluded_reason = reason

    @property
    def row_rate(self) -> float:
        return self.mapped_rows / self.rows if self.rows else 0.0

    @property
    def code_rate(self) -> float:
        return len(self.mapped_codes) / len(self.codes) if self.codes else 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "rows": self.rows,
            "rows_mapped": self.mapped_rows,
            "row_rate": round(self.row_rate, 4),
            "codes": len(self.codes),
            "codes_mapped": len(self.mapped_codes),
            "code_rate": round(self.code_rate, 4),
            "methods": dict(self.methods.most_common()),
            "unmapped": [{"code": c, "rows": n} for c, n in sorted(self.unmapped.items(),
                                                                    key=lambda kv: (-kv[1], kv[0]))],
        }
        if self.excluded_rows:
            out["excluded_rows"] = self.excluded_rows
            out["excluded_reason"] = self.excluded_reason
        return out

    def summary(self) -> str:
        return (f"{self.field} -> {self.target}: {self.row_rate:.1%} of {self.rows:,} rows, "
                f"{self.code_rate:.1%} of {len(self.codes):,} codes")
