"""Problems found in input data, and the policy that decides what they do to a build.

A :class:`Problem` names the file, the line (or, for RDF, the triple) and the reason.
Loaders never raise on the first bad record: they collect every problem of a file
into a :class:`ProblemLog`, so a build either succeeds completely or reports every
rejected record at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Literal

__all__ = ["Problem", "ProblemLog", "KGError", "KGValidationError", "Policy", "POLICIES", "rejected_records"]

Policy = Literal["strict", "quarantine"]
#: ``strict`` fails the build listing every problem; ``quarantine`` completes it and
#: writes every rejected record with its reason to the build report.
POLICIES: tuple[str, ...] = ("strict", "quarantine")


@dataclass(frozen=True)
class Problem:
    """One rejected record: where it is and what is wrong with it."""

    file: str
    reason: str
    line: int | None = None
    triple: str | None = None
    record: str | None = None
    source: str | None = None
    #: The problem concerns the file as a whole (unreadable, bad header), not one record in it.
    whole_file: bool = False
    #: Rows or triples the rejected record stands for (an RDF node is its type and label triples).
    records: int = 1

    @property
    def location(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.triple is not None:
            return f"{self.file}: triple {self.triple}"
        return self.file

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items()
                if v is not None and v is not False and not (k == "records" and v == 1)}


class KGError(Exception):
    """Base class of rxkg's own errors."""


class KGValidationError(KGError):
    """Input failed validation; ``problems`` lists every rejected record."""

    def __init__(self, problems: Iterable[Problem], max_shown: int = 20) -> None:
        self.problems: list[Problem] = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:max_shown])
        more = len(self.problems) - max_shown
        tail = f"\n  ... and {more} more" if more > 0 else ""
        n = len(self.problems)
        super().__init__(f"{n} invalid record{'s' if n != 1 else ''}:\n{shown}{tail}")


@dataclass
class ProblemLog:
    """Collects problems for one file; ``raise_if_any`` is the strict-mode exit."""

    file: str
    source: str | None = None
    problems: list[Problem] = field(default_factory=list)

    def add(self, reason: str, line: int | None = None, triple: str | None = None,
            record: str | None = None, whole_file: bool = False, records: int = 1) -> None:
        self.problems.append(Problem(self.file, reason, line, triple, record, self.source, whole_file, records))

    def __len__(self) -> int:
        return len(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise KGValidationError(self.problems)


def rejected_records(problems: Iterable[Problem]) -> int:
    """How many rows or triples ``problems`` reject: each distinct record (a line, a triple, or
    a line-less record such as an RDF node) once, however many problems it has, weighted by
    the rows or triples it stands for; problems about a whole file reject nothing (none of it
    was read)."""
    weight: dict[tuple, int] = {}
    for p in problems:
        if p.whole_file or (p.line is None and p.triple is None and p.record is None):
            continue
        key = (p.file, p.line, p.triple, p.record if p.line is None and p.triple is None else None)
        weight[key] = max(weight.get(key, 0), p.records)
    return sum(weight.values())
