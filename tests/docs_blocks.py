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


def run_block(block: Block) -> str:
    """Run a Python block, or the ``rxkg`` commands of a shell block, in the current folder; what it prints."""
    import contextlib
    import io
    import shlex

    from pipelines.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        if block.lang == "python":
            exec(compile(block.text, block.where, "exec"), {})
        else:
            for command in block.commands():
                if main(shlex.split(command)[1:]) != 0:
                    raise AssertionError(f"{block.where}: {command} failed")
    return printed.getvalue()


def runnable() -> list[Block]:
    """Python blocks, and shell blocks whose output the docs show, in document order."""
    return [b for path in DOCUMENTS for b in blocks(path)
            if b.lang == "python" or (b.lang == "sh" and b.output is not None)]


def update_outputs(model_root: Path) -> None:
    """Rewrite every shown output from a run in ``model_root`` (with build/graph and build/model)."""
    import os

    here = Path.cwd()
    os.chdir(model_root)
    try:
        for block in runnable():
            if block.output is None:
                continue
            printed = run_block(block)
            text = block.path.read_text()
            head = text.index(block.text, sum(len(line) + 1 for line in text.splitlines()[:block.line - 1]))
            start = text.index("```\n", head + len(block.text) + 4) + 4
            block.path.write_text(text[:start] + printed.rstrip("\n") + "\n" + text[text.index("```\n", start):])
            print(f"{block.where}: output updated")
    finally:
        os.chdir(here)


if __name__ == "__main__":  # python -m tests.docs_blocks DIR: regenerate the shown outputs (review the diff)
    import sys

    update_outputs(Path(sys.argv[1]).resolve())
