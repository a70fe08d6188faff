"""README.md and docs/ cite results/ faithfully: short README, every cited figure in the file it links, no dead
results link, and no machine-specific path in any results file."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Iterator

import pytest

from tiny_models import REPO_ROOT

README = os.path.join(REPO_ROOT, "README.md")
RESULTS = os.path.join(REPO_ROOT, "results")
MAX_README_LINES = 220
#: Markdown pages whose results links must resolve.
PAGES = [README] + sorted(os.path.join(d, f) for d in (os.path.join(REPO_ROOT, "docs"), os.path.join(REPO_ROOT,
                                                                                              "model_cards"))
                          if os.path.isdir(d) for f in os.listdir(d) if f.endswith(".md"))
ABSOLUTE_PATH = re.compile(r"/work/|/tmp/|/home/|/root/|/Users/|\b[A-Za-z]:\\")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]*results/[^)\s]*)\)")
MENTION = re.compile(r"(?<![\w./-])(results/[\w./-]+\.json)")
FIGURE = re.compile(r"^-?\d[\d,]*(?:\.\d+)?$")


# ---------------------------------------------------------------- the checker
def figures_of(cell: str) -> list[str] | None:
    """The figures of a table cell (``"65.80 ± 0.67"`` -> both; ``"43.33 / 13.91"`` -> both), or None for text."""
    parts = [p.strip().strip("*").strip() for p in re.split(r"±| / ", cell.strip().strip("*"))]
    return parts if all(FIGURE.match(p) for p in parts) else None


def numbers_in(data: Any) -> Iterator[float]:
    """Every number stored in a parsed JSON document (not the ones inside strings)."""
    if isinstance(data, bool):
        return
    if isinstance(data, (int, float)):
        yield float(data)
    elif isinstance(data, dict):
        for value in data.values():
            yield from numbers_in(value)
    elif isinstance(data, list):
        for value in data:
            yield from numbers_in(value)


def figure_matches(figure: str, numbers: list[float]) -> bool:
    """Whether ``figure`` (``"65.20"``, ``"1,482"``) is one of ``numbers`` at the figure's own rounding."""
    text = figure.replace(",", "")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return any(f"{x:.{decimals}f}" == text or f"{x:.{decimals}f}" == f"{float(text):.{decimals}f}"
               for x in numbers)


def _tables(lines: list[str]) -> Iterator[tuple[int, list[str], list[str]]]:
    """(first line number, the paragraph just before, the rows) of every markdown table."""
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            start, before = i, []
            j = i - 1
            while j >= 0 and not lines[j].strip():  # the blank lines between the paragraph and its table
                j -= 1
            while j >= 0 and lines[j].strip() and not lines[j].startswith("|"):
                before.insert(0, lines[j])
                j -= 1
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            yield start + 1, before, lines[start:i]
        else:
            i += 1


def _load(path: str, cache: dict[str, list[float]]) -> list[float] | None:
    if path not in cache:
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as f:
            cache[path] = list(numbers_in(json.load(f)))
    return cache[path]


def check_figures(text: str, page: str, every_table_needs_a_source: bool) -> list[str]:
    """Problems with the figures of a markdown page; ``page`` is its path (links resolve from its folder).

    A table's source is the results file linked in its row, else the one(s) linked in the paragraph just
    before it. Every figure cell of a sourced row must be a number stored in its source. A line outside tables
    that links a results file must hold only decimals stored there. With ``every_table_needs_a_source``, a table
    with figures but no source is a problem too.
    """
    problems: list[str] = []
    cache: dict[str, list[float]] = {}
    folder = os.path.dirname(page)
    lines = text.splitlines()

    def sources(line_or_lines: str) -> list[str]:
        return [os.path.normpath(os.path.join(folder, t.split("#")[0])) for t in LINK.findall(line_or_lines)]

    def check(figure: str, paths: list[str], where: str) -> None:
        found = [_load(p, cache) for p in paths]
        for p, numbers in zip(paths, found):
            if numbers is None:
                problems.append(f"{where}: {os.path.relpath(p, folder)} does not exist")
        if not any(numbers is not None and figure_matches(figure, numbers) for numbers in found):
            names = ", ".join(os.path.relpath(p, folder) for p in paths)
            problems.append(f"{where}: {figure} is not in {names}")

    in_table: set[int] = set()
    for first, before, rows in _tables(lines):
        in_table.update(range(first - 1, first - 1 + len(rows)))
        table_sources = sources("\n".join(before))
        for k, row in enumerate(rows[2:], start=first + 2):  # header and separator rows hold no figures
            cells = row.strip().strip("|").split("|")
            figures = [f for c in cells[1:] for f in (figures_of(c) or [])]  # the first cell names the row
            paths = sources(row) or table_sources
            if figures and not paths:
                if every_table_needs_a_source:
                    problems.append(f"line {k}: figures {', '.join(figures)} link no results file")
                continue
            for figure in figures:
                check(figure, paths, f"line {k}")
    for k, line in enumerate(lines):
        if k in in_table or not LINK.search(line):
            continue
        for figure in re.findall(r"(?<![\w.])(\d+\.\d+)(?=x?(?![\w.]))", LINK.sub("", line)):  # 2.61x too
            check(figure, sources(line), f"line {k + 1}")
    return problems


# ---------------------------------------------------------------- the checker can fail
def test_the_figure_matcher_uses_the_figures_rounding():
    numbers = [65.20304214617582, 0.08, 1482.0, 74.7]
    assert figure_matches("65.20", numbers) and figure_matches("65.2", numbers) and figure_matches("74.70", numbers)
    assert figure_matches("0.08", numbers) and figure_matches("1,482", numbers)
    assert not figure_matches("65.21", numbers)  # a wrong figure
    assert not figure_matches("65.203", [65.2])  # more precision than the file holds
    assert figures_of("**74.84 ± 0.08**") == ["74.84", "0.08"] and figures_of("43.33 / 13.91") == ["43.33", "13.91"]
    assert figures_of("BiLSTM, seed 42") is None and figures_of("-") is None


def test_a_wrong_figure_and_a_dead_link_are_reported(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text(json.dumps({"e": {"runs": [{"dev": 74.905670, "std": 0.08}]}}))
    page = str(tmp_path / "README.md")
    good = ("| model | dev | file |\n|---|---:|---|\n| a, seed 42 | 74.91 ± 0.08 | [r](results/r.json) |\n\n"
            "Dev reached 74.91 ([results/r.json](results/r.json)), 0.08x of textcl 2.13.0.\n")
    assert check_figures(good, page, every_table_needs_a_source=True) == []
    wrong = good.replace("| 74.91 ±", "| 74.19 ±")
    assert check_figures(wrong, page, True) == ["line 3: 74.19 is not in results/r.json"]
    prose = good.replace("reached 74.91", "reached 75.91")
    assert check_figures(prose, page, True) == ["line 5: 75.91 is not in results/r.json"]
    dead = good.replace("[r](results/r.json)", "[r](results/gone.json)")
    assert "line 3: results/gone.json does not exist" in check_figures(dead, page, True)
    unlinked = good.replace(" [r](results/r.json) |", " - |")
    assert check_figures(unlinked, page, True) == ["line 3: figures 74.91, 0.08 link no results file"]
    # a table sourced by the paragraph before it
    sourced = "From [r](results/r.json):\n\n| model | dev |\n|---|---:|\n| a | 74.91 |\n| b | 12.5 |\n"
    assert check_figures(sourced, page, False) == ["line 6: 12.5 is not in results/r.json"]


# ---------------------------------------------------------------- the repository
def test_readme_is_short():
    with open(README, encoding="utf-8") as f:
        n = len(f.read().splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines; move detail into docs/ (at most {MAX_README_LINES})"


def test_readme_keeps_the_test_command_ci_runs():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    assert 'pip install -e ".[test]" && python -m pytest -q\n' in text
    assert "pip install -e . && textcl quickstart\n" in text


def test_every_readme_figure_is_in_the_results_file_it_links():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    assert LINK.search(text), "the README links no results file"
    assert check_figures(text, README, every_table_needs_a_source=True) == []


@pytest.mark.parametrize("page", [p for p in PAGES if p != README], ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_docs_figures_are_in_the_results_files_they_name(page):
    with open(page, encoding="utf-8") as f:
        text = f.read()
    assert check_figures(text, page, every_table_needs_a_source=False) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_every_results_link_and_mention_exists(page):
    with open(page, encoding="utf-8") as f:
        text = f.read()
    folder = os.path.dirname(page)
    missing = [t for t in LINK.findall(text) if not os.path.isfile(os.path.join(folder, t.split("#")[0]))]
    missing += [m for m in MENTION.findall(LINK.sub("", text)) if not os.path.isfile(os.path.join(REPO_ROOT, m))]
    assert missing == [], f"{os.path.relpath(page, REPO_ROOT)} cites results files that do not exist"


def test_no_results_file_holds_an_absolute_path():
    found = []
    for folder, _, files in os.walk(RESULTS):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            found += [f"{os.path.relpath(path, REPO_ROOT)}: {m.group(0)!r}" for m in ABSOLUTE_PATH.finditer(text)]
            if name.endswith(".json"):  # a Windows path is stored with an escaped backslash
                found += [f"{os.path.relpath(path, REPO_ROOT)}: {m!r}" for m in re.findall(r"\b[A-Za-z]:\\\\", text)]
    assert found == []
    assert ABSOLUTE_PATH.search('"model_path": "/work/main/out/qs/run/model"')  # the pattern itself can fire
    assert re.search(r"\b[A-Za-z]:\\\\", json.dumps({"p": "C:\\Users\\me"}))


def test_scripts_stand_alone():
    """benchmarks/, recipes/ and tools/ replace scripts/, and none of them imports from tests/."""
    assert not os.path.exists(os.path.join(REPO_ROOT, "scripts"))
    bad = []
    for top in ("benchmarks", "recipes", "tools"):
        for folder, _, files in os.walk(os.path.join(REPO_ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(folder, name), encoding="utf-8") as f:
                        text = f.read()
                    if re.search(r"^\s*(from|import)\s+(tests|tiny_models|conftest)\b|sys\.path.*\"tests\"", text,
                                 re.MULTILINE):
                        bad.append(os.path.relpath(os.path.join(folder, name), REPO_ROOT))
    assert bad == []
