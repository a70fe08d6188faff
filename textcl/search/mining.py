"""Hard-negative mining: (anchor, positive) pairs in, triplets or n-tuples with the nearest non-positives out.

The names and meanings follow ``sentence_transformers.util.mine_hard_negatives``. Every
candidate's rank is its place among the corpus texts ordered by cosine similarity to the anchor
(best first, ties to the earlier corpus text), counted after removing the anchor's own text and
every positive of that anchor (all of them, when an anchor repeats in the data): such a text is
never a negative. Mining then takes, per unique anchor:

1. the candidates ranked ``range_min`` to ``range_max - 1`` (the window);
2. those the filters keep: ``score + absolute_margin <= positive``,
   ``score <= positive - |positive| * relative_margin`` (``positive`` is the anchor's lowest
   positive score), ``score <= max_score``, ``score >= min_score``;
3. the first ``num_negatives`` of them (``"top"``), or ``num_negatives`` of them drawn without
   replacement (``"random"``: ``rng.permutation(len(kept))[:num_negatives]`` per anchor, in the
   anchors' order, from one ``numpy.random.default_rng(seed)``), most similar first.

Without ``max_score`` and the margins, the negatives are sentence-transformers' own (tested). With
them, sentence-transformers draws from its first ``range_max + max positives per anchor + 1`` raw
ranks (the anchor and positives included) and ``range_min`` skips the first candidates that survive
the filters, so it can reach a little deeper; here both ends of the window count ranks after removing
the anchor and its positives and before filtering, so a rank means the same with and without filters.

Search is exact (:class:`~textcl.search.exact.ExactIndex`) or, with ``use_faiss=True``, an IVF-Flat
:class:`~textcl.search.faiss_index.FaissIndex` built over the corpus with its default ``nprobe``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import datasets
import numpy as np

from textcl.data.load import check_text_columns, load_data
from textcl.search.exact import ExactIndex, normalize_rows
from textcl.search.faiss_index import FaissIndex, require_faiss
from textcl.settings import SEED_MAX, check_choice, check_float, check_int

__all__ = [
    "OUTPUT_FORMATS",
    "SAMPLING_STRATEGIES",
    "MiningStats",
    "check_mining_options",
    "mine_hard_negatives",
    "mine_hard_negatives_with_stats",
    "pair_columns",
]

SAMPLING_STRATEGIES = ("top", "random")
OUTPUT_FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
FILTERS = ("absolute_margin", "relative_margin", "max_score", "min_score")
QUERY_BLOCK = 1024  # anchors searched at a time


@dataclass
class MiningStats:
    """What one mining run found.

    Attributes:
        anchors: unique anchors.
        pairs: unique (anchor, positive) pairs.
        corpus: unique candidate texts (the corpus and the positives).
        range_max: the rank window's end used (derived when not given).
        negatives: negatives chosen, summed over unique anchors.
        short: unique anchors that got fewer than ``num_negatives`` negatives.
        rows: rows of the output dataset.
        skipped: candidates of the rank window each filter removed (in the order applied).
    """

    anchors: int
    pairs: int
    corpus: int
    range_max: int
    negatives: int = 0
    short: int = 0
    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self, num_negatives: int, output_format: str) -> str:
        """One line: rows written, negatives found, anchors short of negatives, what the filters skipped."""
        line = (f"{self.rows} {output_format} rows: {self.negatives} negatives for {self.anchors} anchors "
                f"({self.pairs} pairs, corpus {self.corpus}, ranks < {self.range_max})")
        if self.short:
            line += f"; {self.short} anchors got fewer than {num_negatives} negatives"
        skipped = ", ".join(f"{name} {n}" for name, n in self.skipped.items() if n)
        return line + (f"; skipped {skipped}" if skipped else "")


def mine_hard_negatives(model: Any, dataset: Any, anchor_column_name: str | None = None,
                        positive_column_name: str | None = None, corpus: Iterable[str] | None = None,
                        range_min: int = 0, range_max: int | None = None, max_score: float | None = None,
                        min_score: float | None = None, absolute_margin: float | None = None,
                        relative_margin: float | None = None, num_negatives: int = 3,
                        sampling_strategy: Literal["top", "random"] = "top", query_prompt_name: str | None = None,
                        query_prompt: str | None = None, corpus_prompt_name: str | None = None,
                        corpus_prompt: str | None = None, include_positives: bool = False,
                        output_format: Literal["triplet", "n-tuple", "labeled-pair", "labeled-list"] = "triplet",
                        output_scores: bool = False, batch_size: int = 32, use_faiss: bool = False, seed: int = 0,
                        verbose: bool = False) -> datasets.Dataset:
    """Add hard negatives to (anchor, positive) pairs, as sentence-transformers' ``mine_hard_negatives``.

    Args:
        model: anything with sentence-transformers' ``encode(texts, batch_size=..., ...)`` (a
            :class:`~textcl.model.SentenceEncoder`). sentence-transformers' order ``(dataset, model)``
            is accepted too.
        dataset: the pairs: a ``datasets.Dataset`` or anything :func:`textcl.data.load_data` reads.
        anchor_column_name: the anchor column (default: the first).
        positive_column_name: the positive column (default: the second).
        corpus: extra candidate texts; the positives are always candidates too (duplicates dropped).
        range_min: first rank considered (0 = the most similar non-positive).
        range_max: rank window end (exclusive). Default, as sentence-transformers:
            ``range_min + num_negatives * (10 if a margin or max_score is set else 1) + max positives per anchor``.
        max_score: drop candidates more similar to the anchor than this.
        min_score: drop candidates less similar to the anchor than this.
        absolute_margin: drop candidates with ``score + absolute_margin > positive score``.
        relative_margin: drop candidates with ``score > positive - |positive| * relative_margin``.
        num_negatives: negatives per anchor (>= 1).
        sampling_strategy: ``"top"`` (the most similar kept candidates) or ``"random"`` (seeded draw).
        query_prompt_name / query_prompt: prompt for encoding anchors (``encode``'s ``prompt_name`` / ``prompt``).
        corpus_prompt_name / corpus_prompt: prompt for encoding the corpus.
        include_positives: keep the positives among the candidates (to build reranking sets);
            needs ``output_format="n-tuple"``.
        output_format: ``"triplet"`` (anchor, positive, negative), ``"n-tuple"`` (anchor, positive,
            negative_1 .. negative_n; only anchors with all n), ``"labeled-pair"`` (anchor, text, label)
            or ``"labeled-list"`` (anchor, [texts], [labels]).
        output_scores: add the cosine scores (``scores``, or ``score`` / ``scores`` in place of the labels).
        batch_size: sentences per forward pass.
        use_faiss: search with a faiss IVF-Flat index (needs faiss) instead of exactly.
        seed: seed of the ``"random"`` draw and of the faiss index's k-means.
        verbose: print progress (and an encoding bar) and a one-line summary on stderr.

    Returns:
        The mined ``datasets.Dataset``; rows follow the unique anchors in first-appearance order, then
        their positives in order, then the negatives from most to least similar.

    Raises:
        ValueError: a bad number or choice, a missing or empty column, or a window too small.
        ImportError: ``use_faiss=True`` without faiss.
    """
    out, stats = mine_hard_negatives_with_stats(**locals())
    if verbose:
        print(f"mining: {stats.summary(num_negatives, output_format)}", file=sys.stderr)
    return out


def mine_hard_negatives_with_stats(model: Any, dataset: Any, anchor_column_name: str | None = None,
                                   positive_column_name: str | None = None, corpus: Iterable[str] | None = None,
                                   range_min: int = 0, range_max: int | None = None,
                                   max_score: float | None = None, min_score: float | None = None,
                                   absolute_margin: float | None = None, relative_margin: float | None = None,
                                   num_negatives: int = 3, sampling_strategy: str = "top",
                                   query_prompt_name: str | None = None, query_prompt: str | None = None,
                                   corpus_prompt_name: str | None = None, corpus_prompt: str | None = None,
                                   include_positives: bool = False, output_format: str = "triplet",
                                   output_scores: bool = False, batch_size: int = 32, use_faiss: bool = False,
                                   seed: int = 0, verbose: bool = False) -> tuple[datasets.Dataset, MiningStats]:
    """:func:`mine_hard_negatives`, also returning its :class:`MiningStats` (``verbose`` prints progress only)."""
    if isinstance(model, datasets.Dataset) and hasattr(dataset, "encode"):
        model, dataset = dataset, model  # sentence-transformers' argument order
    filters = {"absolute_margin": absolute_margin, "relative_margin": relative_margin, "max_score": max_score,
               "min_score": min_score}
    check_mining_options(num_negatives, range_min, range_max, filters, sampling_strategy, output_format,
                         include_positives, batch_size, seed, use_faiss)
    ds = dataset if isinstance(dataset, datasets.Dataset) else load_data(dataset)
    anchor_col, positive_col = pair_columns(ds, anchor_column_name, positive_column_name)
    check_text_columns(ds, [anchor_col, positive_col])
    columns = ds.select_columns([anchor_col, positive_col]).to_dict()  # two plain lists, read once
    anchors = list(dict.fromkeys(columns[anchor_col]))
    anchor_row = {text: i for i, text in enumerate(anchors)}
    positives: list[list[str]] = [[] for _ in anchors]
    for a, p in zip(columns[anchor_col], columns[positive_col]):
        if p not in positives[anchor_row[a]]:
            positives[anchor_row[a]].append(p)
    texts = _corpus(corpus, columns[positive_col])
    corpus_row = {text: i for i, text in enumerate(texts)}
    max_positives = max(len(p) for p in positives)
    if range_max is None:
        wide = any(filters[k] is not None for k in ("absolute_margin", "relative_margin", "max_score"))
        range_max = range_min + num_negatives * (10 if wide else 1) + max_positives
    if num_negatives > range_max - range_min:
        raise ValueError(f"num_negatives ({num_negatives}) must fit in the rank window range_min..range_max "
                         f"({range_min}..{range_max}): lower num_negatives or range_min, or raise range_max")

    say = (lambda msg: print(f"mining: {msg}", file=sys.stderr)) if verbose else (lambda msg: None)
    excluded = []
    for i, a in enumerate(anchors):
        own = {corpus_row[p] for p in positives[i]}
        drop = set() if include_positives else set(own)
        if a in corpus_row and not (include_positives and corpus_row[a] in own):
            drop.add(corpus_row[a])
        excluded.append(drop)
    say(f"encoding {len(anchors)} anchors and {len(texts)} corpus texts")
    query_emb = _encode(model, anchors, batch_size, query_prompt_name, query_prompt, verbose, "anchors")
    corpus_emb = _encode(model, texts, batch_size, corpus_prompt_name, corpus_prompt, verbose, "corpus")
    k = min(len(texts), range_max + max(len(e) for e in excluded))
    say(f"searching the top {k} of {len(texts)} ({'faiss' if use_faiss else 'exact'})")
    index = FaissIndex.build(corpus_emb, seed=seed) if use_faiss else ExactIndex(corpus_emb)
    # anchors in blocks, so that a block's scores against a corpus chunk stay small (1024 x chunk_size floats)
    found = [index.search(query_emb[start:start + QUERY_BLOCK], k) for start in range(0, len(anchors), QUERY_BLOCK)]
    scores = np.concatenate([f[0] for f in found])  # (anchors, k), best first
    ids = np.concatenate([f[1] for f in found])  # (anchors, k); -1 where faiss found fewer
    q, c = normalize_rows(query_emb), normalize_rows(corpus_emb)
    positive_scores = [np.array([q[i] @ c[corpus_row[p]] for p in positives[i]], dtype=np.float32)
                       for i in range(len(anchors))]

    stats = MiningStats(len(anchors), sum(map(len, positives)), len(texts), range_max,
                        skipped={name: 0 for name, value in filters.items() if value is not None})
    rng = np.random.default_rng(seed)
    negatives: list[list[tuple[str, float]]] = []
    for i in range(len(anchors)):
        keep = [(float(s), int(j)) for s, j in zip(scores[i], ids[i]) if j >= 0 and int(j) not in excluded[i]]
        window = keep[range_min:range_max]
        kept = _filter(window, float(positive_scores[i].min()), filters, stats.skipped)
        if sampling_strategy == "random":
            kept = [kept[t] for t in np.sort(rng.permutation(len(kept))[:num_negatives])]
        chosen = [(texts[j], s) for s, j in kept[:num_negatives]]
        negatives.append(chosen)
        stats.negatives += len(chosen)
        stats.short += len(chosen) < num_negatives
    out = _build(anchors, positives, positive_scores, negatives, anchor_col, positive_col, num_negatives,
                 output_format, output_scores)
    stats.rows = len(out)
    return out, stats


def check_mining_options(num_negatives: int, range_min: int, range_max: int | None,
                         filters: dict[str, float | None], sampling_strategy: str, output_format: str,
                         include_positives: bool, batch_size: int, seed: int, use_faiss: bool = False) -> None:
    """Every number and choice, through :mod:`textcl.settings`, before anything is encoded.

    Raises:
        ValueError: a number out of range or an unknown choice.
        ImportError: ``use_faiss`` without faiss installed (naming the install command).
    """
    check_int("num_negatives", num_negatives)
    check_int("range_min", range_min, 0)
    if range_max is not None:
        check_int("range_max", range_max, range_min + 1)
    for name in ("max_score", "min_score"):
        if filters[name] is not None:
            check_float(name, filters[name], -1.0, 1.0)
    if filters["absolute_margin"] is not None:
        check_float("absolute_margin", filters["absolute_margin"], 0.0, 2.0)
    if filters["relative_margin"] is not None:
        check_float("relative_margin", filters["relative_margin"], 0.0, 1.0)
    if None not in (filters["min_score"], filters["max_score"]) and filters["min_score"] > filters["max_score"]:
        raise ValueError(f"min_score ({filters['min_score']}) must be <= max_score ({filters['max_score']})")
    check_choice("sampling_strategy", sampling_strategy, SAMPLING_STRATEGIES)
    check_choice("output_format", output_format, OUTPUT_FORMATS)
    if include_positives and output_format != "n-tuple":
        raise ValueError("include_positives=True keeps each anchor's ranking and needs output_format='n-tuple' "
                         f"(--output-format n-tuple), got {output_format!r}")
    check_int("batch_size", batch_size)
    check_int("seed", seed, 0, SEED_MAX)
    if use_faiss:
        require_faiss()


def pair_columns(ds: datasets.Dataset, anchor: str | None, positive: str | None) -> tuple[str, str]:
    """The anchor and positive columns: named ones must exist; by default the first two."""
    names = ds.column_names
    for flag, name in (("anchor_column_name (--anchor-column)", anchor),
                       ("positive_column_name (--positive-column)", positive)):
        if name is not None and name not in names:
            raise ValueError(f"{flag} {name!r} is not a column of the data; it has: {', '.join(names)}")
    if len(names) < 2 and (anchor is None or positive is None):
        raise ValueError(f"mining needs (anchor, positive) pairs, but the data has one column ({names[0]}): "
                         "pass data with two text columns")
    anchor = names[0] if anchor is None else anchor
    positive = next(n for n in names if n != anchor) if positive is None else positive
    if anchor == positive:
        raise ValueError(f"the anchor and positive columns are both {anchor!r}: name two different columns")
    return anchor, positive


def _corpus(corpus: Iterable[str] | None, positives: Sequence[str]) -> list[str]:
    """Candidate texts: the corpus, then the positives, each text once (first place kept)."""
    extra = [] if corpus is None else list(corpus)
    for i, text in enumerate(extra):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"corpus text {i} ({text!r:.60}) is not a non-empty string; clean the corpus")
    return list(dict.fromkeys(extra + list(positives)))


def _encode(model: Any, texts: list[str], batch_size: int, prompt_name: str | None, prompt: str | None,
            verbose: bool, what: str) -> np.ndarray:
    """(len(texts), dim) float32 embeddings from ``model.encode``."""
    if not hasattr(model, "encode"):
        raise TypeError(f"model must have an encode() method (a SentenceEncoder), got {type(model).__name__}")
    kwargs: dict[str, Any] = {"batch_size": batch_size, "convert_to_numpy": True, "show_progress_bar": verbose}
    if prompt_name is not None:
        kwargs["prompt_name"] = prompt_name
    if prompt is not None:
        kwargs["prompt"] = prompt
    emb = np.asarray(model.encode(texts, **kwargs), dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise ValueError(f"model.encode returned shape {emb.shape} for {len(texts)} {what} texts; "
                         "expected (texts, dim)")
    return emb


def _filter(window: list[tuple[float, int]], positive: float, filters: dict[str, float | None],
            skipped: dict[str, int]) -> list[tuple[float, int]]:
    """The window's candidates every set filter keeps; ``skipped`` counts each filter's removals."""
    tests = {
        "absolute_margin": lambda s, m: s + m > positive,
        "relative_margin": lambda s, m: s > positive - abs(positive) * m,
        "max_score": lambda s, m: s > m,
        "min_score": lambda s, m: s < m,
    }
    kept = window
    for name in FILTERS:
        if filters[name] is None:
            continue
        before = len(kept)
        kept = [(s, j) for s, j in kept if not tests[name](s, filters[name])]
        skipped[name] += before - len(kept)
    return kept


def _build(anchors: list[str], positives: list[list[str]], positive_scores: list[np.ndarray],
           negatives: list[list[tuple[str, float]]], anchor_col: str, positive_col: str, num_negatives: int,
           output_format: str, output_scores: bool) -> datasets.Dataset:
    """The output rows in ``output_format`` (see :func:`mine_hard_negatives`)."""
    text, floats = datasets.Value("string"), datasets.List(datasets.Value("float32"))
    rows: dict[str, list[Any]]
    if output_format == "triplet":
        features = {anchor_col: text, positive_col: text, "negative": text}
        features.update({"scores": floats} if output_scores else {})
        rows = {name: [] for name in features}
        for a, ps, pscores, negs in zip(anchors, positives, positive_scores, negatives):
            for p, ps_score in zip(ps, pscores):
                for neg, score in negs:
                    rows[anchor_col].append(a)
                    rows[positive_col].append(p)
                    rows["negative"].append(neg)
                    if output_scores:
                        rows["scores"].append([float(ps_score), score])
    elif output_format == "n-tuple":
        features = {anchor_col: text, positive_col: text}
        features.update({f"negative_{n}": text for n in range(1, num_negatives + 1)})
        features.update({"scores": floats} if output_scores else {})
        rows = {name: [] for name in features}
        for a, ps, pscores, negs in zip(anchors, positives, positive_scores, negatives):
            if len(negs) < num_negatives:
                continue
            for p, ps_score in zip(ps, pscores):
                rows[anchor_col].append(a)
                rows[positive_col].append(p)
                for n, (neg, _) in enumerate(negs, start=1):
                    rows[f"negative_{n}"].append(neg)
                if output_scores:
                    rows["scores"].append([float(ps_score)] + [s for _, s in negs])
    elif output_format == "labeled-pair":
        label = ("score", datasets.Value("float32")) if output_scores else ("label", datasets.Value("int64"))
        features = {anchor_col: text, positive_col: text, label[0]: label[1]}
        rows = {name: [] for name in features}
        for a, ps, pscores, negs in zip(anchors, positives, positive_scores, negatives):
            for t, value in [(p, (float(s), 1)) for p, s in zip(ps, pscores)] + [(n, (s, 0)) for n, s in negs]:
                rows[anchor_col].append(a)
                rows[positive_col].append(t)
                rows[label[0]].append(value[0] if output_scores else value[1])
    else:  # labeled-list
        texts = datasets.List(text)
        label = ("scores", floats) if output_scores else ("labels", datasets.List(datasets.Value("int64")))
        features = {anchor_col: text, positive_col: texts, label[0]: label[1]}
        rows = {name: [] for name in features}
        for a, ps, pscores, negs in zip(anchors, positives, positive_scores, negatives):
            if not negs:
                continue
            for p, ps_score in zip(ps, pscores):
                rows[anchor_col].append(a)
                rows[positive_col].append([p] + [n for n, _ in negs])
                rows[label[0]].append([float(ps_score)] + [s for _, s in negs] if output_scores
                                      else [1] + [0] * len(negs))
    return datasets.Dataset.from_dict(rows, features=datasets.Features(features))
