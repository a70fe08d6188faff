"""Regenerate ``model_cards/`` from the results JSON of real runs (never from hand-typed figures).

``model_cards/specs.yaml`` holds one entry per model the README reports: its name, recipe (the
exact command), base model, data, licence, encoder, the results JSON the recipe writes, and where
in that JSON each figure is (a dotted key path such as ``rows.-1.stsb_test``). For every entry
whose JSON exists this writes ``model_cards/<slug>.md`` (a Hugging Face model card made by
:func:`textcl.interop.model_card.render_model_card`); ``model_cards/README.md`` indexes them all and lists
the entries whose run has not been made yet. Cards whose JSON has gone are removed.

Usage::

    python tools/make_model_cards.py            # rewrite model_cards/
    python tools/make_model_cards.py --check    # exit 1 if any card differs from what it would write
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CARDS_DIR = os.path.join(ROOT, "model_cards")
SPECS = os.path.join(CARDS_DIR, "specs.yaml")
INDEX = "README.md"

_REQUIRED = ("slug", "name", "recipe", "results_json", "datasets", "loss", "view", "figures")


@dataclass
class CardSpec:
    """One model card's recipe and where its figures are (see ``model_cards/specs.yaml``)."""

    slug: str
    name: str
    recipe: str
    results_json: str
    datasets: list[str]
    loss: str
    view: str
    figures: list[dict[str, str]]
    model_path: str = "PATH"
    base_model: str | None = None
    initialised_from: str | None = None
    license: str | None = None
    license_note: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    encoder: dict[str, Any] = field(default_factory=dict)
    train_seconds: str | None = None
    environment: str | None = None


def load_specs(path: str = SPECS) -> list[CardSpec]:
    """Read and check the card specs.

    Raises:
        ValueError: a spec lacks a field, repeats a slug, or has a figure without task/split/metric/key.
    """
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f) or []
    specs, seen = [], set()
    for i, entry in enumerate(raw):
        missing = [k for k in _REQUIRED if k not in entry]
        if missing:
            raise ValueError(f"{path}: entry {i} ({entry.get('slug', '?')}) lacks {', '.join(missing)}")
        if entry["slug"] in seen:
            raise ValueError(f"{path}: slug {entry['slug']!r} appears twice")
        seen.add(entry["slug"])
        for fig in entry["figures"]:
            if not {"task", "split", "metric", "key"} <= set(fig):
                raise ValueError(f"{path}: {entry['slug']}: figure {fig} needs task, split, metric and key")
        specs.append(CardSpec(**entry))
    return specs


def lookup(data: Any, key: str, where: str = "results JSON") -> Any:
    """The value at dotted ``key`` (``rows.-1.stsb_test``: list indices allowed) in ``data``.

    Raises:
        KeyError: a part of the path is absent (the message names the part and what exists).
    """
    node = data
    for part in key.split("."):
        if isinstance(node, list):
            try:
                node = node[int(part)]
                continue
            except (ValueError, IndexError):
                raise KeyError(f"{where}: {key!r}: {part!r} is not an index of a list of {len(node)}") from None
        if not isinstance(node, dict) or part not in node:
            have = ", ".join(map(str, node)) if isinstance(node, dict) else type(node).__name__
            raise KeyError(f"{where}: {key!r}: no {part!r} (found: {have})")
        node = node[part]
    return node


def card_for(spec: CardSpec, results: dict[str, Any]) -> Any:
    """The ``huggingface_hub.ModelCard`` of ``spec`` with figures read from ``results``."""
    from textcl.interop.model_card import CardResult, ModelCard, render_model_card

    where = spec.results_json
    figures = [CardResult(f["task"], f["split"], f["metric"], float(lookup(results, f["key"], where)))
               for f in spec.figures]
    env = lookup(results, spec.environment, where) if spec.environment else None
    card = ModelCard(
        name=spec.name, base_model=spec.base_model, datasets=list(spec.datasets), loss=spec.loss, view=spec.view,
        license=spec.license, initialised_from=spec.initialised_from, license_note=spec.license_note,
        hyperparameters=dict(spec.hyperparameters), results=figures, recipe=spec.recipe,
        train_seconds=float(lookup(results, spec.train_seconds, where)) if spec.train_seconds else None,
        hardware=(env or {}).get("hardware") or "not recorded in the results JSON",
        versions={k: v for k, v in (env or {}).items() if k != "hardware"},
        extra_rows=[("results JSON", f"`{spec.results_json}`")])
    return render_model_card(card, path=spec.model_path, model_facts=spec.encoder or None)


def build(specs: list[CardSpec], root: str = ROOT) -> dict[str, str]:
    """File name -> text for every card whose results JSON exists, and the index."""
    out: dict[str, str] = {}
    rows = ["| model | card | recipe | STS-B test | status |", "|---|---|---|---:|---|"]
    for spec in specs:
        path = os.path.join(root, spec.results_json)
        if not os.path.isfile(path):
            rows.append(f"| {spec.name} | - | `{spec.recipe}` | - | not yet run (no `{spec.results_json}`) |")
            continue
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
        out[f"{spec.slug}.md"] = str(card_for(spec, results))
        test = [f for f in spec.figures if (f["task"], f["split"], f["metric"]) == ("stsb", "test", "spearman")]
        score = f"{float(lookup(results, test[0]['key'], spec.results_json)):.2f}" if test else "-"
        rows.append(f"| {spec.name} | [{spec.slug}.md]({spec.slug}.md) | `{spec.recipe}` | {score} | "
                    f"from `{spec.results_json}` |")
    out[INDEX] = ("# Model cards\n\nCards of the models the README reports, written by "
                  "`python tools/make_model_cards.py` from the results JSON of real runs (specs: "
                  "`model_cards/specs.yaml`; `tests/tools/test_model_cards.py` checks every figure against "
                  "its JSON). STS-B test: Spearman x100, cosine. A model whose run has not been made is listed as "
                  "not yet run, with no figures; new models (issue 11's recipes) join by an entry in "
                  "`specs.yaml` naming their results JSON.\n\n" + "\n".join(rows) + "\n")
    return out


def write(files: dict[str, str], cards_dir: str = CARDS_DIR, specs: list[CardSpec] | None = None) -> None:
    """Write ``files`` into ``cards_dir`` and remove cards of specs that no longer have results."""
    os.makedirs(cards_dir, exist_ok=True)
    for spec in specs or []:
        stale = os.path.join(cards_dir, f"{spec.slug}.md")
        if f"{spec.slug}.md" not in files and os.path.isfile(stale):
            os.remove(stale)
    for name, text in files.items():
        with open(os.path.join(cards_dir, name), "w", encoding="utf-8") as f:
            f.write(text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--specs", default=SPECS)
    p.add_argument("--output", default=CARDS_DIR)
    p.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = p.parse_args()
    specs = load_specs(args.specs)
    files = build(specs)
    if args.check:
        stale = [n for n, t in files.items() if not os.path.isfile(os.path.join(args.output, n))
                 or open(os.path.join(args.output, n), encoding="utf-8").read() != t]
        print("up to date" if not stale else f"out of date: {', '.join(stale)}")
        return 1 if stale else 0
    write(files, args.output, specs)
    for name in files:
        print(os.path.join(args.output, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
