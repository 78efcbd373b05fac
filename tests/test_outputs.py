"""Output folders and files: rxkg replaces only what it wrote, swaps atomically, leaves no debris."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kg.errors import KGError
from kg.io import read_graph, write_graph
from kg.outputs import OWNER_FILE, atomic_directory, owned_files
from pipelines.cli import main

from conftest import TINY

ROOT = Path(__file__).resolve().parent.parent


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _debris(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".rxkg-tmp-" in p.name or ".rxkg-old-" in p.name)


@pytest.fixture
def user_folder(tmp_path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "prescriptions.csv").write_text("npi,drug\n1,aspirin\n")
    (folder / "notes").mkdir()
    (folder / "notes" / "todo.txt").write_text("keep me\n")
    return folder


def test_a_folder_of_user_files_is_never_replaced(tiny_graph, user_folder):
    before = _snapshot(user_folder)
    with pytest.raises(KGError, match="was not written by rxkg .*prescriptions.csv|was not written by rxkg"):
        write_graph(tiny_graph, user_folder)
    assert _snapshot(user_folder) == before
    assert _debris(user_folder.parent) == []


def test_an_rxkg_folder_the_user_added_to_is_refused(tiny_graph, tmp_path):
    out = write_graph(tiny_graph, tmp_path / "graph")
    write_graph(tiny_graph, out)  # its own earlier output: replaced
    (out / "my_notes.txt").write_text("mine")
    with pytest.raises(KGError, match="holds 1 file\\(s\\) rxkg did not write .*my_notes.txt"):
        write_graph(tiny_graph, out)
    assert (out / "my_notes.txt").read_text() == "mine"


def test_a_file_where_a_folder_goes_is_refused(tiny_graph, tmp_path):
    target = tmp_path / "graph"
    target.write_text("not a folder")
    with pytest.raises(KGError, match="is a file, not a folder"):
        write_graph(tiny_graph, target)
    assert target.read_text() == "not a folder"
    with pytest.raises(KGError, match="is a file, not a folder"):
        write_graph(tiny_graph, target / "inside")


def test_force_writes_beside_user_files_and_never_over_them(tiny_graph, user_folder):
    before = _snapshot(user_folder)
    write_graph(tiny_graph, user_folder, force=True)
    after = _snapshot(user_folder)
    assert {k: after[k] for k in before} == before
    assert read_graph(user_folder, verify=False).num_nodes == tiny_graph.num_nodes
    assert "prescriptions.csv" not in owned_files(user_folder)
    write_graph(tiny_graph, user_folder, force=True)  # rxkg's own files there are replaced
    (user_folder / "clash").mkdir()
    collision = user_folder.parent / "other"
    collision.mkdir()
    (collision / "nodes.parquet").write_text("the user's own file of that name")
    with pytest.raises(KGError, match="nodes.parquet: exists and was not written by rxkg"):
        write_graph(tiny_graph, collision, force=True)
    assert (collision / "nodes.parquet").read_text() == "the user's own file of that name"


def test_empty_folder_is_used_and_owned(tiny_graph, tmp_path):
    (tmp_path / "empty").mkdir()
    write_graph(tiny_graph, tmp_path / "empty")
    assert "nodes.parquet" in owned_files(tmp_path / "empty")
    assert (tmp_path / "empty" / OWNER_FILE).is_file()


def test_a_failed_fill_leaves_the_old_output_and_no_debris(tiny_graph, tmp_path):
    out = write_graph(tiny_graph, tmp_path / "graph")
    before = _snapshot(out)

    def broken(tmp: Path) -> None:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_directory(out, broken)
    assert _snapshot(out) == before
    assert _debris(tmp_path) == []


def test_concurrent_writers_each_swap_in_a_complete_folder(tiny_graph, tmp_path):
    out = write_graph(tiny_graph, tmp_path / "graph")
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            write_graph(tiny_graph, out, extra_files={"wait": lambda p: (p.write_text("x"), barrier.wait())})
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert read_graph(out).num_nodes == tiny_graph.num_nodes
    assert _debris(tmp_path) == []


def test_without_renameat2_the_two_rename_fallback_still_replaces(tiny_graph, tmp_path, monkeypatch):
    import kg.outputs

    monkeypatch.setattr(kg.outputs, "_renameat2", lambda *a: False)
    out = write_graph(tiny_graph, tmp_path / "graph")
    write_graph(tiny_graph, out)
    assert read_graph(out).num_nodes == tiny_graph.num_nodes
    assert _debris(tmp_path) == []


_KILLED_WRITER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import kg.outputs
from conftest import TINY, build
from kg.io import write_graph
from kg.sources import load_csv_source

step = sys.argv[2]
kg.outputs._checkpoint = lambda name: os.kill(os.getpid(), signal.SIGKILL) if name == step else None
graph = build(load_csv_source(TINY / "mapping.toml")).graph
graph = graph.subgraph(list(graph.nodes["id"])[:-1])  # the new graph differs from the old one
write_graph(graph, sys.argv[1])
"""


@pytest.mark.parametrize("step", ["filled", "recorded", "published", "done"])
def test_a_build_killed_at_any_step_of_the_swap_leaves_a_complete_graph(tiny_graph, tmp_path, step):
    out = write_graph(tiny_graph, tmp_path / "graph")
    code = _KILLED_WRITER.format(tests=str(ROOT / "tests"))
    done = subprocess.run([sys.executable, "-c", code, str(out), step], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    graph = read_graph(out)  # complete and verified: the old graph or the new one
    assert graph.num_nodes in (tiny_graph.num_nodes, tiny_graph.num_nodes - 1)
    if step in ("published", "done"):
        assert graph.num_nodes == tiny_graph.num_nodes - 1
    write_graph(tiny_graph, out)  # the next write clears what the killed process left
    assert _debris(tmp_path) == []
    assert read_graph(out).num_nodes == tiny_graph.num_nodes


def test_cli_build_refuses_a_folder_of_user_csvs(tmp_path, capsys):
    mine = tmp_path / "mydata"
    mine.mkdir()
    for f in TINY.iterdir():
        if f.is_file():
            (mine / f.name).write_bytes(f.read_bytes())
    before = _snapshot(mine)
    config = tmp_path / "c.toml"
    config.write_text(f'[build]\n[[build.sources]]\nkind = "csv"\nmapping = "{mine / "mapping.toml"}"\n')
    code = main(["build", "--config", str(config), "--out", str(mine)])
    err = capsys.readouterr().err
    assert code == 1
    assert str(mine) in err and "was not written by rxkg" in err and "Traceback" not in err
    assert _snapshot(mine) == before


def test_cli_export_never_deletes_or_overwrites_user_files(tiny_graph, tmp_path, user_folder, capsys):
    graph = write_graph(tiny_graph, tmp_path / "graph")
    before = _snapshot(user_folder)
    assert main(["export", str(graph), "--format", "csv", "--out", str(user_folder)]) == 1
    assert "was not written by rxkg" in capsys.readouterr().err
    assert _snapshot(user_folder) == before
    a_file = tmp_path / "report.txt"
    a_file.write_text("the user's")
    assert main(["export", str(graph), "--format", "csv", "--out", str(a_file)]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    assert a_file.read_text() == "the user's"
    user_gexf = tmp_path / "mine.gexf"
    user_gexf.write_text("<gexf>my own drawing</gexf>")
    assert main(["export", str(graph), "--out", str(user_gexf)]) == 1
    assert "was not written by rxkg" in capsys.readouterr().err
    assert user_gexf.read_text() == "<gexf>my own drawing</gexf>"
    ours = tmp_path / "ours.gexf"
    assert main(["export", str(graph), "--out", str(ours)]) == 0
    assert main(["export", str(graph), "--out", str(ours)]) == 0  # rxkg's own file: replaced
    assert main(["export", str(graph), "--out", str(user_gexf), "--force"]) == 0
    assert "rxkg" in user_gexf.read_text()
    assert main(["export", str(graph), "--format", "csv", "--out", str(user_folder), "--force"]) == 0
    after = _snapshot(user_folder)
    assert {k: after[k] for k in before} == before and "nodes.csv" in after


def test_a_link_as_output_is_refused_not_moved(tiny_graph, tmp_path):
    real = write_graph(tiny_graph, tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(KGError, match="is a link; give the folder it points to"):
        write_graph(tiny_graph, tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and read_graph(real).num_nodes == tiny_graph.num_nodes


def test_exports_are_readable_by_others_unless_they_show_patients_in_clear(tiny_graph, tmp_path):
    import os
    import stat

    from kg.export import export_graph

    old = os.umask(0o022)
    try:
        page = export_graph(tiny_graph, tmp_path / "page.html")
        folder = export_graph(tiny_graph, tmp_path / "neo4j", "neo4j")
        private = export_graph(tiny_graph, tmp_path / "clear.graphml", privacy="clear")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(page) == 0o644 and mode(folder) == 0o755
    assert all(mode(f) in (0o644, 0o755) for f in folder.iterdir())
    assert mode(folder / "import.sh") == 0o755  # the import script stays executable
    assert mode(private) == 0o600
