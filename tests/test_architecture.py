"""The package layout keeps its promises: the import rule of docs/architecture.md, no cycles, small modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "textcl"
DOC = REPO / "docs" / "architecture.md"
MAX_LINES = 450


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module of textcl."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted target) of every textcl import in a file, function-level ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("textcl"):
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, "<relative>"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("textcl")]
    return found


def unit(dotted: str) -> str:
    """The package or top-level module a dotted name belongs to (``textcl.data.files`` -> ``data``)."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "textcl"


def resolve(dotted: str, known: dict[str, Path]) -> str | None:
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def layers() -> dict[str, int]:
    """The layer of each unit, read from the import-rule table of docs/architecture.md."""
    section = DOC.read_text(encoding="utf-8").split("## The import rule", 1)[1].split("\n## ", 1)[0]
    table = {}
    for layer, cells in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M):
        for name in re.findall(r"`([a-z_]+)`", cells):
            table[name] = int(layer)
    return table


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def violations(known: dict[str, Path], table: dict[str, int]) -> list[str]:
    bad = []
    for name, path in known.items():
        src = unit(name)
        for line, target in imports(path):
            if target == "<relative>":
                bad.append(f"{rel(path)}:{line}: relative import (write textcl.…)")
                continue
            dst = unit(target)
            if dst == src or target == "textcl.__version__":
                continue
            if dst == "textcl":
                if target != "textcl.__version__":
                    bad.append(f"{rel(path)}:{line}: imports {target} from the package root")
                continue
            if src == "textcl":
                continue  # the root names the public API (lazily)
            if src not in table or dst not in table:
                bad.append(f"{rel(path)}:{line}: {src} or {dst} has no layer in docs/architecture.md")
            elif table[dst] >= table[src]:
                bad.append(f"{rel(path)}:{line}: {src} (layer {table[src]}) imports {target} "
                           f"(layer {table[dst]})")
    return bad


def test_every_import_follows_the_rule():
    assert violations(modules(), layers()) == []


def test_the_rule_checker_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "storage_mod.py"
    fake.write_text("from textcl.model import SentenceEncoder\n")
    bad = violations({"textcl.storage.fake": fake}, layers())
    assert len(bad) == 1 and "storage (layer 0) imports textcl.model.SentenceEncoder (layer 3)" in bad[0]


def cycles(known: dict[str, Path]) -> list[list[str]]:
    """Strongly connected components (more than one module) of the module import graph."""
    graph = {name: set() for name in known}
    for name, path in known.items():
        for _, target in imports(path):
            dst = resolve(target, known)
            if dst and dst != name and dst != "textcl":
                graph[name].add(dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(modules()) == []


def test_cycle_finder_finds_a_cycle(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import textcl.b\n")
    b.write_text("from textcl.a import x\n")
    assert cycles({"textcl.a": a, "textcl.b": b}) == [["textcl.a", "textcl.b"]]


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_small_and_listed(name):
    path = modules()[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines (at most {MAX_LINES}): split it by job"
    assert f"`{path.relative_to(REPO).as_posix()}`" in DOC.read_text(encoding="utf-8"), \
        f"{path.relative_to(REPO)} is not in docs/architecture.md's module table"


def test_every_unit_has_a_layer():
    units = {unit(n) for n in modules()} - {"textcl"}
    assert units <= set(layers()), f"no layer in docs/architecture.md for {sorted(units - set(layers()))}"


def test_code_says_what_it_does_not_its_history():
    """No issue numbers in textcl/: the code says what it does."""
    pattern = re.compile(r"\bissue\s*#?\d+|\(issue\b", re.I)
    hits = [f"{p.relative_to(REPO)}:{i}" for p in PACKAGE.rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_no_script_imports_the_tests():
    hits = []
    for folder in ("benchmarks", "recipes", "tools", "scripts"):
        for p in (REPO / folder).rglob("*.py") if (REPO / folder).is_dir() else []:
            text = p.read_text(encoding="utf-8")
            if re.search(r"^\s*(from|import)\s+(tests|tiny_models|conftest)\b", text, re.M) or "sys.path" in text \
                    and "tests" in re.findall(r"sys\.path[^\n]*", text).__str__():
                hits.append(str(p.relative_to(REPO)))
    assert hits == []


def test_test_modules_have_unique_names():
    """pytest imports test modules by basename: two with one name fail collection of the whole suite."""
    names = [p.name for p in (REPO / "tests").rglob("*.py") if p.name not in ("__init__.py", "conftest.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
