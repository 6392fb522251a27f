"""The packages form layers that cannot cycle: checked on the source, every import counted (function-level too)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at any level of the file (functions and TYPE_CHECKING blocks included)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join([*base, *([node.module] if node.module else [])])
            elif node.module:
                yield node.module


def import_graph(top: str, depth: int) -> dict[str, dict[str, str]]:
    """node -> {imported node: one module-level edge that makes it}, nodes cut to `depth` dotted parts."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted((PROJECT / top).rglob("*.py")):
        source = ".".join(_module_name(path).split(".")[:depth])
        for target in _imports(path):
            if target.split(".")[0] != top:
                continue
            node = ".".join(target.split(".")[:depth])
            if node != source:
                graph.setdefault(source, {}).setdefault(node, f"{_module_name(path)} imports {target}")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One path per strongly connected group of nodes that reach each other (a cycle), with its edges."""
    found = []
    for start in sorted(graph):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, {})):
                if nxt == start:
                    edges = [graph[a][b] for a, b in zip(path, [*path[1:], start])]
                    found.append(edges)
                    stack.clear()
                    break
                if nxt not in seen and nxt > start:  # each cycle reported once, from its smallest node
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return found


def test_the_graph_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    graph = import_graph("dataprep", 2)
    assert "dataprep.conversion" in graph["dataprep.pipeline_plan"]
    assert cycles({"a": {"b": "a imports b"}, "b": {"c": "b imports c"}, "c": {"a": "c imports a"}}) == [
        ["a imports b", "b imports c", "c imports a"]]


def test_no_import_cycle_between_dataprep_subpackages() -> None:
    assert cycles(import_graph("dataprep", 2)) == []


def test_no_import_cycle_between_flows_modules() -> None:
    assert cycles(import_graph("flows", 2)) == []


def test_config_is_a_leaf_and_cheap_to_import() -> None:
    """Configuration imports no stage and no measuring library: validating a file never depends on the machine."""
    graph = import_graph("dataprep", 2)
    assert set(graph["dataprep.config"]) <= {"dataprep.errors", "dataprep.feature_names"}
    assert "dataprep.feature_names" not in graph  # the reserved names import nothing of dataprep
    code = ("import sys, dataprep.config; "
            "print(sorted(m for m in ('psutil', 'numpy', 'h5py', 'cv2', 'rosbags') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


SUBPACKAGES = sorted(f"dataprep.{path.parent.name}" for path in (PROJECT / "dataprep").glob("*/__init__.py"))


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_facades_hold_about_ten_names_each_defined_in_a_submodule(package: str) -> None:
    """A facade is what callers outside the package need (its entry points, config and report types, main errors);
    the rest is imported from its submodule. Every subpackage is covered, so a new one cannot grow a wide facade
    unnoticed. The bound is 12, not 10: "about ten" leaves room for a stage's plan/unit/conclude trio and its
    report types without pushing a name users need out to a submodule path."""
    import importlib
    import inspect

    if package == "dataprep.torchdata":
        pytest.importorskip("torch")
    facade = importlib.import_module(package)
    assert 1 <= len(facade.__all__) <= 12, facade.__all__
    assert sorted(facade.__all__) == sorted(name for name in vars(facade) if not name.startswith("_")
                                            and not isinstance(getattr(facade, name), type(facade)))
    submodules = [module for name, module in sorted(sys.modules.items()) if name.startswith(package + ".")]
    for name in facade.__all__:
        value = getattr(facade, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith(package + "."), name
        # constants and type aliases carry no module of their own: one of the package's submodules binds them
        assert any(vars(module).get(name) is value for module in submodules), name


@pytest.mark.parametrize("package", ["dataprep.storage", "dataprep.config", "dataprep.feature_names"])
def test_leaf_packages_load_no_array_or_video_library(package: str) -> None:
    """Configuration and storage helpers are imported by every stage and by config validation: they stay cheap."""
    code = (f"import sys, {package}; "
            "print(sorted(m for m in ('numpy', 'pyarrow', 'av', 'datasets', 'h5py', 'cv2') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_no_facade_hides_a_cycle_behind_a_module_getattr() -> None:
    lazy = [str(path.relative_to(PROJECT)) for path in sorted((PROJECT / "dataprep").rglob("__init__.py"))
            if any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
                   for node in ast.parse(path.read_text(encoding="utf-8")).body)]
    assert lazy == []


@pytest.mark.parametrize("cpus", [1, 4, 32])
def test_worker_counts_validate_by_syntax_alone_and_resolve_at_plan_time(monkeypatch: pytest.MonkeyPatch,
                                                                         cpus: int) -> None:
    """`cpu*0.05` is as valid on 1 CPU as on 32; what it comes to is decided when a stage is planned."""
    import os

    from dataprep.config import GoproPrepareConfig, LoaderSpec
    from dataprep.config.workers import parse_worker_count
    from dataprep.memory import resolve_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    spike = {"encoding": "bytes", "frames": 4, "height": 2, "width": 8}
    gopro = GoproPrepareConfig.model_validate({"gopro_root": "g", "spike_root": "s", "output_root": "o",
                                               "spike": spike, "workers": "CPU * 0.05"})
    assert gopro.workers == "cpu*0.05"  # one spelling from here on
    assert resolve_workers(gopro.workers) == max(1, int(cpus * 0.05))
    assert LoaderSpec(num_workers="cpu*0.05").num_workers == "cpu*0.05"
    assert (parse_worker_count("4"), parse_worker_count(0), parse_worker_count("auto")) == (4, 0, "auto")
    for bad in ("half", "cpu*0", -1, True, 1.5):
        with pytest.raises(ValueError, match="worker count"):
            parse_worker_count(bad)
