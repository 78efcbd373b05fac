"""Code blocks of README.md and docs/*.md, and what each prints, for the docs tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block; ``output`` is the plain block right after it (what it prints), if any."""

    path: Path
    line: int
    lang: str
    text: str
    output: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    def commands(self) -> list[str]:
        """Shell lines without comments, backslash continuations joined."""
        joined = re.sub(r"\\\n\s*", " ", self.text)
        joined = re.sub(r"\n[ \t]+(?=\S)", " ", joined)  # an indented line continues a synopsis
        return [c for c in (line.split(" #")[0].strip() for line in joined.splitlines())
                if c and not c.startswith("#")]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``; a code block's output is a plain block following it directly."""
    text = path.read_text()
    found = [(m.start(), m.end(), m.group(1), m.group(2)) for m in _FENCE.finditer(text)]
    out: list[Block] = []
    for i, (start, end, lang, body) in enumerate(found):
        if not lang and i and found[i - 1][2] and not text[found[i - 1][1]:start].strip():
            continue  # an output block, attached to the code block before it
        nxt = found[i + 1] if i + 1 < len(found) else None
        output = nxt[3] if lang and nxt and not nxt[2] and not text[end:nxt[0]].strip() else None
        out.append(Block(path, text.count("\n", 0, start) + 1, lang, body, output))
    return out


def all_blocks(lang: str) -> list[Block]:
    return [b for path in DOCUMENTS for b in blocks(path) if b.lang == lang]


def shape(text: str) -> list[str]:
    """Printed text with numbers blanked: names and order must match, digits may drift between BLAS builds."""
    return [re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", line.rstrip()) for line in text.strip().splitlines()]
