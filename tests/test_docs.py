"""Every code block of README.md and docs/ runs as written, so the documentation cannot go stale.

- shell blocks: every ``rxkg`` synopsis names real flags, every ``make`` target exists, and the
  ``torchrun`` lines name the distributed trainers' real flags;
- TOML blocks load as the CSV mapping or build config they show;
- the own-data walk-through runs end to end (build, train, recommend) on the shipped example;
- Python blocks and the ``rxkg recommend`` commands run on a model trained from the shipped data,
  and print what the documentation shows (slow: a build and a training run).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.docs_blocks import DOCUMENTS, REPO, Block, all_blocks, blocks, run_block, runnable, shape


def test_the_readme_has_python_examples_and_stays_short():
    readme = REPO / "README.md"
    assert all_blocks("python") and any(b.path == readme for b in all_blocks("python"))
    assert len(readme.read_text().splitlines()) <= 250
    for path in DOCUMENTS:  # every linked document exists
        for link in re.findall(r"\]\(([^)#]+)\)", path.read_text()):
            if not link.startswith("http"):
                assert (path.parent / link).exists(), f"{path.name}: {link}"


def _options(parser) -> set[str]:
    return {o for action in parser._actions for o in action.option_strings}


def test_every_command_line_in_the_docs_names_real_commands_and_flags():
    from pipelines.cli import build_parser
    from pipelines.people_distributed import build_parser as people_parser
    from recsys.link.gnn.distributed import build_parser as distributed_parser

    torchrun_modules = {"recsys.link.gnn.distributed": distributed_parser, "pipelines.people_distributed": people_parser}

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction").choices
    makefile = (REPO / "Makefile").read_text()
    checked = 0
    for block in all_blocks("sh"):
        for command in block.commands():
            words = command.split()
            if words[0] == "rxkg":
                assert words[1] in sub, f"{block.where}: no command 'rxkg {words[1]}'"
                known = _options(sub[words[1]])
            elif words[0] == "make":
                assert re.search(rf"^{words[1]}:", makefile, re.M), f"{block.where}: no make target {words[1]}"
                continue
            elif words[0] == "torchrun":
                module = next((w for w in words if w in torchrun_modules), None)
                assert module, f"{block.where}: torchrun runs none of {sorted(torchrun_modules)}"
                words = words[words.index(module):]
                known = _options(torchrun_modules[module]())
            else:
                raise AssertionError(f"{block.where}: a shell line the docs test does not know: {command}")
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", " ".join(words)):
                assert flag in known, f"{block.where}: {words[0]} {words[1]} has no {flag}"
            checked += 1
    assert checked >= 20


def test_every_toml_block_loads_as_what_it_shows(tmp_path):
    from kg.sources.csv_mapping import load_csv_mapping
    from pipelines.config import load_config

    for i, block in enumerate(all_blocks("toml")):
        path = tmp_path / f"block{i}.toml"
        path.write_text(block.text)
        if re.search(r"^\[\[(nodes|edges)\]\]", block.text, re.M):
            assert load_csv_mapping(path).edges or load_csv_mapping(path).nodes, block.where
        else:
            load_config(path)  # raises, naming the key, on anything a config cannot hold


def _walk_through() -> tuple[Block, list[str]]:
    found = blocks(REPO / "docs" / "own-data.md")
    i = next(i for i, b in enumerate(found) if b.lang == "sh" and "--config docs/config.example.toml" in b.text)
    shown = next(b for b in found[i + 1:] if not b.lang)
    return found[i], [name.strip() for name in shown.text.split(",")]


#: The walk-through's training in every run: the same commands, bundle and recommendation, with
#: the settings that take minutes left out (the link GNN, the people GNNs, the metapath model's
#: penalty search): 80 s instead of 270 s. The slow set trains as written and checks the names shown.
LIGHT_TRAINING = {"gnn": None, "people_gnn": None, "patient_gnn": None, "metapath_penalties": (1e-2,),
                  "metapath_combine": "validation"}


def _run_walk_through(root: Path, light: bool) -> str:
    """The walk-through's commands run in ``root`` (a copy of docs/ in it); what the last printed.
    ``light``: ``rxkg train`` runs through :func:`pipelines.train.run_train` with :data:`LIGHT_TRAINING`."""
    import contextlib
    import io
    import os

    from kg.io import read_graph
    from pipelines.cli import main
    from pipelines.train import TrainConfig, run_train

    block, _ = _walk_through()
    shutil.copytree(REPO / "docs", root / "docs")
    here = Path.cwd()
    os.chdir(root)
    try:
        printed = ""
        for command in block.commands():
            words = shlex.split(command)[1:]
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                if light and words[0] == "train":
                    flags = dict(zip(words[1::2], words[2::2]))
                    assert set(flags) == {"--graph", "--out"}, command
                    run_train(read_graph(flags["--graph"]), TrainConfig(**LIGHT_TRAINING), out=flags["--out"])
                else:
                    assert main(words) == 0, command
            printed = out.getvalue()
    finally:
        os.chdir(here)
    return printed


def _check_build_report(root: Path) -> None:
    report = json.loads((root / "build" / "mine" / "build_report.json").read_text())
    mine = report["sources"]["my-prescriptions"]
    assert mine["rows_read"] == 16 and mine["rejected"] == 0 and mine["out_of_scope"] == 1


@pytest.fixture(scope="module")
def walk_through(tmp_path_factory):
    """About 90 s: the walk-through with light training (:data:`LIGHT_TRAINING`) on a copy of docs/."""
    root = tmp_path_factory.mktemp("walk-through")
    return root, _run_walk_through(root, light=True)


def test_the_own_data_walk_through_builds_trains_and_recommends(walk_through):
    """The user's new family doctor, known only from their prescriptions in docs/examples, gets
    five drugs of the graph, each with its explanation, from a bundle trained on their build."""
    from recsys import Recommender

    root, printed = walk_through
    _check_build_report(root)
    found = json.loads(printed)["recommendations"]
    model = Recommender.load(root / "build" / "mine-model")
    assert len(found) == 5 and len({r["drug_id"] for r in found}) == 5
    assert all(model.node_types.get(r["drug_id"]) == "drug" and r["name"] == model.names[r["drug_id"]]
               and r["explanation"].startswith("Score")
               for r in found)
    assert model.knows(model.doctor_cf, "doctor:NPI:1234567893")  # their claims reached the model


@pytest.mark.slow
def test_the_own_data_walk_through_runs_as_written(tmp_path):
    """About five minutes: the commands exactly as written, and the names the page shows."""
    printed = _run_walk_through(tmp_path, light=False)
    _, shown = _walk_through()
    assert [r["name"] for r in json.loads(printed)["recommendations"]] == shown
    _check_build_report(tmp_path)


#: Python blocks cheap enough for every run (the others train models: the slow set runs them).
CHEAP = ("README.md", "docs/recommending.md")


@pytest.mark.parametrize("block", [b for b in runnable() if b.lang == "python" and b.where.startswith(CHEAP)],
                         ids=lambda b: b.where)
def test_python_blocks_run_on_the_walk_through_model(block, walk_through, tmp_path, monkeypatch):
    """Every run executes them (on the walk-through's model); the slow set also checks what they print."""
    root, _ = walk_through
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "graph").symlink_to(root / "build" / "mine")
    (tmp_path / "build" / "model").symlink_to(root / "build" / "mine-model")
    monkeypatch.chdir(tmp_path)
    assert run_block(block).strip()


@pytest.fixture(scope="module")
def shipped_model(tmp_path_factory):
    from pipelines.cli import main

    root = tmp_path_factory.mktemp("docs-model")
    assert main(["build", "--out", str(root / "build" / "graph")]) == 0
    assert main(["train", "--graph", str(root / "build" / "graph"), "--out", str(root / "build" / "model")]) == 0
    return root


@pytest.mark.slow
@pytest.mark.parametrize("block", runnable(), ids=lambda b: b.where)
def test_code_blocks_print_what_the_docs_show(block, shipped_model, monkeypatch):
    """Regenerate the shown outputs after a change with ``python -m tests.docs_blocks DIR``."""
    monkeypatch.chdir(shipped_model)
    printed = run_block(block)
    if block.output is not None:
        assert shape(printed) == shape(block.output), f"{block.where} prints:\n{printed}"
