"""Plain Python values from pandas and numpy cells: one rendering for every reader and exporter."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plain"]


def plain(value: Any) -> Any:
    """A JSON/XML-friendly scalar, or ``None`` for any kind of null."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None  # NaN is a null; an infinity is no value JSON, XML or a graph tool can carry
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, np.generic):
        return value.item()
    return value
