"""The README's Python examples run as written (on a model trained from the shipped data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def test_the_readme_has_python_examples_and_stays_short():
    readme = REPO / "README.md"
    assert python_blocks(readme)
    assert len(readme.read_text().splitlines()) <= 250
    for link in re.findall(r"\]\(([^)#]+)\)", readme.read_text()):  # every linked document exists
        if not link.startswith("http"):
            assert (REPO / link).exists(), link


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, capsys, monkeypatch):
    """A few minutes: builds the shipped graph and trains the model the examples read."""
    from pipelines.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["build", "--out", "build/graph"]) == 0
    assert main(["train", "--graph", "build/graph", "--out", "build/model"]) == 0
    capsys.readouterr()
    for block in python_blocks(REPO / "README.md"):
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "type 2 diabetes mellitus" in out  # the disease example's explanations


def test_the_config_template_adds_a_source_to_the_shipped_ones(tmp_path):
    from kg.build import build_graph
    from pipelines.config import default_config, load_config

    config = load_config(REPO / "docs" / "config.example.toml")
    shipped = default_config().build.sources
    assert [s.label for s in config.build.sources] == [s.label for s in shipped] + ["my-prescriptions"]
    outcome = build_graph(config.build.sources)  # about 7 s: the shipped graph plus the example
    mine = outcome.report.sources["my-prescriptions"]
    assert mine["rows_read"] == 3 and mine["rejected"] == 0
    clash = tmp_path / "c.toml"
    clash.write_text('[build]\ninclude_shipped = true\n[[build.sources]]\nkind = "csv"\nname = "cms"\n'
                     f'mapping = "{REPO / "docs" / "examples" / "prescriptions.toml"}"\n')
    with pytest.raises(Exception, match="names \\['cms'\\] twice"):
        load_config(clash)
