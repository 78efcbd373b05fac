"""Graph directories: manifest, checksums, atomic replacement."""

import json

import pytest

from kg.errors import KGError
from kg.io import read_graph, read_manifest, write_graph


def test_write_then_read_gives_an_equal_graph(tiny_graph, tmp_path):
    write_graph(tiny_graph, tmp_path / "g")
    again = read_graph(tmp_path / "g")
    assert again.differences(tiny_graph) == []
    manifest = read_manifest(tmp_path / "g")
    assert manifest["format_version"] == 1
    assert manifest["nodes"]["drug"] == 4
    assert manifest["edges"]["drug__treats__disease"] == 2
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())


def test_tampered_file_is_detected(tiny_graph, tmp_path):
    write_graph(tiny_graph, tmp_path / "g")
    target = tmp_path / "g" / "edges" / "drug__treats__disease.parquet"
    target.write_bytes(target.read_bytes() + b"x")
    with pytest.raises(KGError, match="drug__treats__disease.parquet: checksum does not match"):
        read_graph(tmp_path / "g")


def test_unsupported_format_version_is_refused(tiny_graph, tmp_path):
    write_graph(tiny_graph, tmp_path / "g")
    manifest_path = tmp_path / "g" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(KGError, match="format version 99 is not supported"):
        read_graph(tmp_path / "g")


def test_not_a_graph_directory(tmp_path):
    with pytest.raises(KGError, match="not an rxkg graph directory"):
        read_graph(tmp_path)


def test_failed_write_keeps_the_previous_graph(tiny_graph, tmp_path):
    write_graph(tiny_graph, tmp_path / "g")

    def explode(path):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_graph(tiny_graph.around("drug:DB00945"), tmp_path / "g", extra_files={"report.json": explode})
    assert read_graph(tmp_path / "g").differences(tiny_graph) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]


def test_rewrite_replaces_the_graph(tiny_graph, tmp_path):
    write_graph(tiny_graph, tmp_path / "g")
    sub = tiny_graph.around("drug:DB00945")
    write_graph(sub, tmp_path / "g")
    assert read_graph(tmp_path / "g").differences(sub) == []
