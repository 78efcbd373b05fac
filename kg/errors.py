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
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}


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
            record: str | None = None, whole_file: bool = False) -> None:
        self.problems.append(Problem(self.file, reason, line, triple, record, self.source, whole_file))

    def __len__(self) -> int:
        return len(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise KGValidationError(self.problems)


def rejected_records(problems: Iterable[Problem]) -> int:
    """How many records ``problems`` reject: one per distinct line or triple, however many
    problems it has; problems about a whole file reject no record (none of it was read)."""
    return len({(p.file, p.line, p.triple) for p in problems
                if not p.whole_file and (p.line is not None or p.triple is not None)})
