"""Reading delimited files with every problem reported by file, line and reason.

The fast path is pandas' C parser. When it fails (a ragged row, say) the file is
scanned again with the :mod:`csv` module so that *every* bad line is reported, not
just the first one pandas trips over.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from kg.errors import ProblemLog
from kg.text import NotUtf8, decode_utf8

__all__ = ["read_text", "read_table", "records_read", "data_line_numbers", "parse_numbers", "parse_datetimes",
           "check_pattern", "check_text", "DRUGBANK_ID", "DOID", "ENTREZ_ID"]

#: Largest input file read whole into memory (bytes); ``RXKG_MAX_INPUT_GB`` raises it.
MAX_INPUT_BYTES = int(float(os.environ.get("RXKG_MAX_INPUT_GB", "8")) * 2**30)

#: (regular expression, description) of the id systems the built-in sources carry.
DRUGBANK_ID = (r"^DB\d{5}$", "a DrugBank id (DB#####)")
DOID = (r"^DOID:\d+$", "a Disease Ontology id (DOID:n)")
ENTREZ_ID = (r"^\d+$", "an Entrez gene id")


def read_text(path: Path, log: ProblemLog) -> str | None:
    """The file's text, or ``None`` with a problem logged (missing, empty, not UTF-8)."""
    if not path.exists():
        log.add("file not found", whole_file=True)
        return None
    if not path.is_file():  # a folder, or a FIFO that would block the build forever
        log.add("is a directory, not a data file: name a file here" if path.is_dir() else
                "not a regular file (a pipe, socket or device): name a data file", whole_file=True)
        return None
    if path.stat().st_size > MAX_INPUT_BYTES:
        log.add(f"larger than {MAX_INPUT_BYTES // 2**30} GiB: split it or raise RXKG_MAX_INPUT_GB", whole_file=True)
        return None
    try:
        raw = path.read_bytes()
    except OSError as err:
        log.add(f"cannot be read ({err.strerror})", whole_file=True)
        return None
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
        return decode_utf8(raw)
    except NotUtf8 as err:
        log.add(str(err), line=err.line, whole_file=True)
        return None


_SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def _separator_hint(text: str, sep: str, wanted: Sequence[str]) -> str:
    """A hint when the header holds every wanted column under another separator (a
    spreadsheet's ';'-separated export read as CSV), so the user learns the fix, not only the symptom."""
    first = text.split("\n", 1)[0]
    for other, label in _SEPARATORS.items():
        if other == sep or other not in first:
            continue
        fields = {h.strip() for h in next(csv.reader([first], delimiter=other))}
        if set(wanted) <= fields:
            setting = "\\t" if other == "\t" else other
            return (f" (the header is {label}-separated, not {_SEPARATORS.get(sep, repr(sep))}-separated: "
                    f'set delimiter = "{setting}" in the file\'s CSV mapping)')
    return ""


def read_table(path: Path, log: ProblemLog, columns: Sequence[str] | None = None,
               required: Sequence[str] = (), sep: str | None = None,
               quoted: bool | None = None, comment_lines: bool = False,
               numbers_except: Sequence[str] | None = None) -> pd.DataFrame | None:
    """Read a CSV/TSV file as strings; ``None`` when the file as a whole is unusable.

    ``columns`` is the exact expected header (missing and extra columns are both
    problems); ``required`` only lists columns that must be present. Empty cells
    become nulls. The index of the result is the file line each record starts on.
    ``quoted`` allows double-quoted fields (default: CSV yes, TSV no). With
    ``comment_lines``, ``#`` lines before the header (a curated table's provenance
    notes) are skipped; line numbers still count them. With ``numbers_except``, every other
    column is parsed as float64 by the C parser (a wide table of counts: no Python string per
    cell), unless one of its cells is not a number: then the whole table is read as strings.
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
    raw_header = next(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=sep))
    header = [h.strip() for h in raw_header]
    wanted = list(columns) if columns is not None else list(required)
    missing = [c for c in wanted if c not in header]
    if missing:
        log.add(f"missing column(s) {missing}; header has {header}{_separator_hint(text, sep, wanted)}",
                line=1 + offset, whole_file=True)
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
    numeric = None if numbers_except is None else {raw: h not in numbers_except for raw, h in zip(raw_header, header)}
    frame = _fast_parse(text, sep, quoting, numeric)
    scan = None
    if frame is None or not _one_record_per_line(text, sep, quoting, len(header), frame):
        # A record spans lines, a quote never closes, a row is short or long, a line is blank:
        # the csv module reads the records exactly, and pandas is trusted only if each has the
        # header's width (pandas alone would pad a short row with empty cells, silently).
        scan = _scan_records(text, sep, quoting)
        trusted = scan.error is None and all(len(r) in (0, len(header)) for r in scan.rows)
        frame = frame if trusted else None
    problems_before = len(log)
    if frame is None:  # ragged rows or a broken quote: keep the good records, report each bad one
        frame = _frame_from_records(scan, header, log, offset)  # scanned above whenever pandas failed
    else:
        frame.columns = header
        starts = scan.starts if scan is not None and len(scan.starts) == len(frame) else None
        frame.index = (pd.Index(starts) if starts is not None else pd.RangeIndex(2, len(frame) + 2)) + offset
    empty = frame.isna().to_numpy()  # once: on a wide file (CMS, 6 million cells) each pass costs 0.1 s
    for col in frame.columns[empty.all(axis=0)]:
        frame[col] = frame[col].astype(object)  # an all-empty column must still be a text column
    blank = empty.all(axis=1)
    if blank.any():
        # A blank line inside the file may hide a lost record; one at the very end is harmless.
        last = text.count("\n") + (0 if text.endswith("\n") else 1) + offset
        for n in frame.index[blank]:
            if n != last:
                log.add("blank line inside the table", line=int(n))
        frame = frame[~blank]
    rejected = len({p.line for p in log.problems[problems_before:]})
    if frame.empty:
        if not rejected:
            log.add("no data rows after the header", line=1 + offset, whole_file=True)
        return None
    frame.attrs["records"] = len(frame) + rejected
    return frame


def records_read(frame: pd.DataFrame) -> int:
    """Data records of a file read by :func:`read_table`, the ones it rejected included."""
    return int(frame.attrs.get("records", len(frame)))


class _Scan:
    """Records of a delimited text as the csv module reads them, with the line each starts on."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.starts: list[int] = []
        #: (line the broken record starts on, reason) when reading stopped early.
        self.error: tuple[int, str] | None = None


def _scan_records(text: str, sep: str, quoting: int) -> _Scan:
    scan = _Scan()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting, strict=True)
    previous_end = 1
    try:
        next(reader)  # the header
        previous_end = reader.line_num
        for row in reader:
            scan.rows.append(row)
            scan.starts.append(previous_end + 1)
            previous_end = reader.line_num
    except csv.Error as err:
        start = previous_end + 1
        if "EOF" in str(err) or "end of data" in str(err):
            reason = (f"a quote opened on this line is never closed: lines {start} to "
                      f"{text.count(chr(10)) + 1} cannot be read")
        else:
            reason = f"unparsable CSV ({err})"
        scan.error = (start, reason)
    return scan


def _frame_from_records(scan: _Scan, header: list[str], log: ProblemLog, offset: int) -> pd.DataFrame:
    width = len(header)
    good_rows, good_starts = [], []
    for row, start in zip(scan.rows, scan.starts):
        if not row:
            good_rows.append([None] * width)  # a blank line, judged with the others below
        elif len(row) != width:
            log.add(f"expected {width} fields, found {len(row)}", line=start + offset)
            continue
        else:
            good_rows.append([v if v != "" else None for v in row])
        good_starts.append(start + offset)
    if scan.error is not None:
        log.add(scan.error[1], line=scan.error[0] + offset)
    return pd.DataFrame(good_rows, columns=header, index=pd.Index(good_starts, dtype="int64"), dtype=object)


def _one_record_per_line(text: str, sep: str, quoting: int, width: int, frame: pd.DataFrame) -> bool:
    """Whether each data line holds exactly one record of the header's width. pandas fails on a
    long row but pads a short one, whose last cell then reads empty: only those lines are parsed
    again (one line each); a record spanning lines makes the line and record counts differ."""
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if lines - 1 != len(frame):
        return False
    suspects = np.flatnonzero(frame.iloc[:, -1].isna().to_numpy())
    if not len(suspects):
        return True
    rows = text.split("\n")
    return all(len(next(csv.reader([rows[i + 1]], delimiter=sep, quoting=quoting), [])) in (0, width)
               for i in suspects)


def _fast_parse(text: str, sep: str, quoting: int, numeric: Mapping[str, bool] | None = None) -> pd.DataFrame | None:
    """pandas' C parser, every cell a string (object dtype: cheaper to slice and map than Arrow),
    or a float where ``numeric`` marks the column (by its name in the file) and every cell is a
    number; ``None`` when the C parser cannot read the table at all."""
    if numeric is not None and any(numeric.values()):
        try:
            return _read_csv(text, sep, quoting, {name: np.float64 if n else object for name, n in numeric.items()})
        except pd.errors.ParserError:
            return None
        except ValueError:  # a cell that is not a number: its text is needed, as written
            pass
    try:
        return _read_csv(text, sep, quoting, object)
    except pd.errors.ParserError:
        return None


def _read_csv(text: str, sep: str, quoting: int, dtype) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=dtype, keep_default_na=False, na_values=[""],
                       quoting=quoting, engine="c", skip_blank_lines=False)


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
_INT64_MAX = 2**63 - 1
#: Control characters (C0, DEL, C1): they break XML exports and one-line labels.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_numbers(values: pd.Series, lines: pd.Series, column: str, log: ProblemLog,
                  integer: bool = False, minimum: float | None = None) -> pd.Series:
    """Parse a string column as finite numbers (at least ``minimum`` when given); each
    unparsable, infinite, out-of-range or too small cell is a problem on its line."""
    text = values.astype(object).where(values.notna(), None)
    parsed = pd.to_numeric(text, errors="coerce").astype("float64")
    reasons = pd.Series(None, index=values.index, dtype=object)
    kind = "an integer" if integer else "a number"
    reasons[values.notna() & parsed.isna()] = f"is not {kind}"
    reasons[values.notna() & parsed.notna() & ~np.isfinite(parsed)] = "is not a finite number"
    if integer:
        digits = values.fillna("0").astype(str).str.strip()
        reasons[values.notna() & reasons.isna() & ~digits.str.match(_INT_RE)] = f"is not {kind}"
        long = np.flatnonzero((digits.str.match(_INT_RE) & (digits.str.lstrip("+-").str.len() > 18)).to_numpy())
        huge = np.zeros(len(digits), dtype=bool)  # only 19+ digit integers can overflow int64
        huge[long] = [abs(int(d)) > _INT64_MAX for d in digits.iloc[long]]
        reasons[values.notna() & reasons.isna() & huge] = "is out of range (more than 2^63 - 1)"
    if minimum is not None:
        reasons[reasons.isna() & (parsed < minimum)] = ("is negative" if minimum == 0
                                                       else f"is below the minimum {minimum}")
    bad = reasons.notna()
    for line, value, reason in zip(lines[bad], values[bad], reasons[bad]):
        log.add(f"column {column!r}: {value!r} {reason}", line=int(line))
    if integer:
        out = pd.Series(pd.NA, index=values.index, dtype="Int64")
        good = values.notna() & ~bad
        out[good] = [int(str(v).strip()) for v in values[good]]
        return out
    return parsed.where(~bad)


#: Timestamps are stored with nanosecond resolution: years 1678 to 2261 fit.
_TIME_RANGE = (pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31"))


def parse_datetimes(values: pd.Series, lines: pd.Series, column: str, log: ProblemLog) -> pd.Series:
    """Parse ISO dates/times (UTC, returned naive); each unparsable or out-of-range cell is a problem."""
    try:  # the fast path; cells it cannot place are looked at one by one below
        parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
        parsed = parsed.dt.tz_localize(None).astype("datetime64[ns]")
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for index in values.index[values.notna() & parsed.isna()]:
        stamp, reason = _one_datetime(values[index])
        if reason is None:
            parsed[index] = stamp
        else:
            log.add(f"column {column!r}: {values[index]!r} {reason}", line=int(lines[index]))
    return parsed


def _one_datetime(value: object) -> tuple[pd.Timestamp | None, str | None]:
    try:
        stamp = pd.Timestamp(str(value))
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        stamp = None
    if stamp is None or stamp is pd.NaT:
        return None, "is not an ISO date or time"
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    if not _TIME_RANGE[0] <= stamp <= _TIME_RANGE[1]:
        return None, f"is outside the supported years {_TIME_RANGE[0].year}-{_TIME_RANGE[1].year}"
    return stamp, None


def check_text(values: pd.Series, lines: pd.Series, column: str, log: ProblemLog) -> pd.Series:
    """Mask of cells holding a control character (a NUL, a line break, ...); each is a problem."""
    bad = values.notna() & values.astype(str).str.contains(CONTROL_CHARS)
    for line, value in zip(lines[bad], values[bad]):
        char = CONTROL_CHARS.search(str(value)).group(0)
        log.add(f"column {column!r}: {str(value)[:40]!r} contains a control character (U+{ord(char):04X}); "
                f"labels are one line of text", line=int(line))
    return bad
