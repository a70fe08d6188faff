"""NLI data: SentEval's SNLI files, and (premise, hypothesis, label) rows turned into training triplets."""

from __future__ import annotations

import os
from typing import Any, Sequence

import datasets

__all__ = ["nli_to_triplets", "load_senteval_snli", "read_senteval_snli"]

_LABELS = {"entailment": "entailment", "contradiction": "contradiction", "neutral": "neutral",
           0: "entailment", 1: "neutral", 2: "contradiction"}


def nli_to_triplets(premises: Sequence[str], hypotheses: Sequence[str], labels: Sequence[Any]) -> datasets.Dataset:
    """Turn NLI rows into (premise, entailment, contradiction) triplets, supervised SimCSE's view.

    Each entailment hypothesis is paired with its premise's first contradiction
    hypothesis; premises lacking either are dropped. Labels may be strings or
    the GLUE/SNLI integers (0 entailment, 1 neutral, 2 contradiction).

    Returns:
        A dataset with columns ``premise``, ``entailment``, ``contradiction``.
    """
    if not (len(premises) == len(hypotheses) == len(labels)):
        raise ValueError(f"premises, hypotheses and labels differ in length: "
                         f"{len(premises)}, {len(hypotheses)}, {len(labels)}")
    entail: dict[str, list[str]] = {}
    contra: dict[str, str] = {}
    for p, h, lab in zip(premises, hypotheses, labels):
        lab = _LABELS.get(lab.strip().lower() if isinstance(lab, str) else lab)
        if lab == "entailment":
            entail.setdefault(p, []).append(h)
        elif lab == "contradiction":
            contra.setdefault(p, h)
    rows = [(p, h, contra[p]) for p, hs in entail.items() if p in contra for h in hs]
    return datasets.Dataset.from_dict({"premise": [r[0] for r in rows], "entailment": [r[1] for r in rows],
                                       "contradiction": [r[2] for r in rows]})


def load_senteval_snli(folder: str, splits: Sequence[str]) -> datasets.Dataset:
    """Read SentEval's SNLI files (``s1.<split>``, ``s2.<split>``, ``labels.<split>``) as triplets.

    Args:
        folder: SentEval's ``SNLI`` folder.
        splits: which splits to read, e.g. ``("train",)`` or ``("dev", "test")``; there is no
            default, so a run never trains on evaluation splits by accident.
    """
    if isinstance(splits, str) or not splits:
        raise ValueError(f"splits must be a non-empty list of split names such as ['train'] or ['dev', 'test'], "
                         f"got {splits!r}")
    return nli_to_triplets(*read_senteval_snli(folder, splits))


def read_senteval_snli(folder: str, splits: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """SentEval's SNLI rows ``(premises, hypotheses, labels)`` of ``splits``, in file order (stripped lines)."""
    if isinstance(splits, str) or not splits:
        raise ValueError(f"splits must be a non-empty list of split names such as ['train'] or ['dev', 'test'], "
                         f"got {splits!r}")
    premises: list[str] = []
    hypotheses: list[str] = []
    labels: list[str] = []
    for split in splits:
        files = [os.path.join(folder, f"{name}.{split}") for name in ("s1", "s2", "labels")]
        for f in files:
            if not os.path.isfile(f):
                raise FileNotFoundError(f"{f} is missing: expected SentEval's SNLI layout "
                                        "(s1.<split>, s2.<split>, labels.<split>)")
        cols = []
        for f in files:
            with open(f, encoding="utf-8") as fh:
                cols.append([line.rstrip("\n").strip() for line in fh])
        if not len(cols[0]) == len(cols[1]) == len(cols[2]):
            raise ValueError(f"{folder}: s1/s2/labels.{split} have different line counts")
        premises += cols[0]
        hypotheses += cols[1]
        labels += cols[2]
    return premises, hypotheses, labels
