"""Reading delimited files with every problem reported by file, line and reason.

The fast path is pandas' C parser. When it fails (a ragged row, say) the file is
scanned again with the :mod:`csv` module so that *every* bad line is reported, not
just the first one pandas trips over.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from kg.errors import ProblemLog

__all__ = ["read_text", "read_table", "data_line_numbers", "parse_numbers", "parse_datetimes",
           "check_pattern", "DRUGBANK_ID", "DOID", "ENTREZ_ID"]

#: (regular expression, description) of the id systems the built-in sources carry.
DRUGBANK_ID = (r"^DB\d{5}$", "a DrugBank id (DB#####)")
DOID = (r"^DOID:\d+$", "a Disease Ontology id (DOID:n)")
ENTREZ_ID = (r"^\d+$", "an Entrez gene id")


def read_text(path: Path, log: ProblemLog) -> str | None:
    """The file's text, or ``None`` with a problem logged (missing, empty, not UTF-8)."""
    if not path.exists():
        log.add("file not found", whole_file=True)
        return None
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            log.add(f"not a readable gzip file ({err})", whole_file=True)
            return None
    if not raw.strip():
        log.add("empty file", whole_file=True)
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        log.add(f"bad encoding: byte 0x{raw[err.start]:02x} is not valid UTF-8 "
                f"(files must be UTF-8)", line=line, whole_file=True)
        return None
    return text.removeprefix("\ufeff")


def read_table(path: Path, log: ProblemLog, columns: Sequence[str] | None = None,
               required: Sequence[str] = (), sep: str | None = None,
               quoted: bool | None = None, comment_lines: bool = False) -> pd.DataFrame | None:
    """Read a CSV/TSV file as strings; ``None`` when the file as a whole is unusable.

    ``columns`` is the exact expected header (missing and extra columns are both
    problems); ``required`` only lists columns that must be present. Empty cells
    become nulls. The index of the result is the file line each record starts on.
    ``quoted`` allows double-quoted fields (default: CSV yes, TSV no). With
    ``comment_lines``, ``#`` lines before the header (a curated table's provenance
    notes) are skipped; line numbers still count them.
    """
    text = read_text(path, log)
    if text is None:
        return None
    offset = 0
    if comment_lines:
        while text.startswith("#"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
            offset += 1
    if sep is None:
        sep = "\t" if ".tsv" in path.suffixes or ".sif" in path.suffixes else ","
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=sep))
    header = [h.strip() for h in header]
    wanted = list(columns) if columns is not None else list(required)
    missing = [c for c in wanted if c not in header]
    if missing:
        log.add(f"missing column(s) {missing}; header has {header}", line=1 + offset, whole_file=True)
    if columns is not None:
        extra = [c for c in header if c not in columns]
        if extra:
            log.add(f"unexpected column(s) {extra}; expected exactly {list(columns)}", line=1 + offset,
                    whole_file=True)
    if len(set(header)) != len(header):
        log.add(f"duplicate column names in header {header}", line=1 + offset, whole_file=True)
    if len(log):
        return None
    if quoted is None:
        quoted = sep != "\t"
    quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            na_values=[""], quoting=quoting, engine="c", skip_blank_lines=False)
    except pd.errors.ParserError:
        _report_ragged_rows(text, sep, quoting, len(header), log, offset)
        return None
    frame.columns = header
    for col in frame.columns[frame.isna().all().to_numpy()]:
        frame[col] = frame[col].astype(object)  # an all-empty column must still be a text column
    frame.index = _record_start_lines(text, sep, quoting, len(frame)) + offset
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        # A blank line inside the file may hide a lost record; one at the very end is harmless.
        last = text.count("\n") + (0 if text.endswith("\n") else 1) + offset
        for n in frame.index[blank]:
            if n != last:
                log.add("blank line inside the table", line=int(n))
        frame = frame[~blank]
    if frame.empty:
        log.add("no data rows after the header", line=1 + offset, whole_file=True)
        return None
    return frame


def _record_start_lines(text: str, sep: str, quoting: int, n_records: int) -> pd.Index:
    """Line on which each data record starts (records may span lines inside quotes)."""
    if quoting == csv.QUOTE_NONE or '"' not in text:
        return pd.RangeIndex(2, n_records + 2)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
    starts, previous_end = [], 1
    try:
        for i, _ in enumerate(reader):
            if i > 0:
                starts.append(previous_end + 1)
            previous_end = reader.line_num
    except csv.Error:
        return pd.RangeIndex(2, n_records + 2)
    if len(starts) != n_records:  # blank lines are records for pandas but not for csv
        return pd.RangeIndex(2, n_records + 2)
    return pd.Index(starts)


def _report_ragged_rows(text: str, sep: str, quoting: int, width: int, log: ProblemLog,
                        offset: int = 0) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
    try:
        for row in reader:
            if reader.line_num == 1 or not row:
                continue
            if len(row) != width:
                log.add(f"expected {width} fields, found {len(row)}", line=reader.line_num + offset)
    except csv.Error as err:
        log.add(f"unparsable CSV ({err})", line=reader.line_num + offset)


def data_line_numbers(frame: pd.DataFrame) -> pd.Series:
    """File line of each row of a frame returned by :func:`read_table`."""
    return pd.Series(frame.index.to_numpy(), index=frame.index, dtype="int64")


def check_pattern(frame: pd.DataFrame, column: str, id_format: tuple[str, str], log: ProblemLog) -> pd.Series:
    """Mask of rows whose ``column`` does not match ``id_format``; each is a problem on its line."""
    pattern, description = id_format
    bad = ~frame[column].fillna("").str.match(pattern)
    for line, value in zip(data_line_numbers(frame)[bad], frame[column][bad]):
        log.add(f"column {column!r}: {value!r} is not {description}", line=int(line))
    return bad


_INT_RE = re.compile(r"^[+-]?\d+$")


def parse_numbers(values: pd.Series, lines: pd.Series, column: str, log: ProblemLog,
                  integer: bool = False) -> pd.Series:
    """Parse a string column as numbers; each unparsable cell is a problem on its line."""
    parsed = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & parsed.isna()
    if integer:
        bad |= values.notna() & ~values.fillna("0").astype(str).str.strip().str.match(_INT_RE)
    for line, value in zip(lines[bad], values[bad]):
        kind = "an integer" if integer else "a number"
        log.add(f"column {column!r}: {value!r} is not {kind}", line=int(line))
    parsed = parsed.where(~bad)
    return parsed.astype("Int64") if integer else parsed.astype("float64")


def parse_datetimes(values: pd.Series, lines: pd.Series, column: str, log: ProblemLog) -> pd.Series:
    """Parse ISO dates/times (UTC, returned naive); each unparsable cell is a problem."""
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    bad = values.notna() & parsed.isna()
    for line, value in zip(lines[bad], values[bad]):
        log.add(f"column {column!r}: {value!r} is not an ISO date or time", line=int(line))
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")
