"""``textcl search``: the corpus sentences nearest to a query (exact top-k cosine)."""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from textcl.commands.encode import add_input_options, line_numbers_path
from textcl.text_files import read_text_rows

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``search`` subcommand."""
    p = subparsers.add_parser("search", help="find the corpus sentences nearest to a query",
                              description="Exact top-k cosine search. The corpus is a text file (encoded here), "
                                          "or a .npy from `textcl encode` (--corpus-embeddings, read memory-mapped) "
                                          "with, optionally, the text file it came from to show the sentences.")
    p.add_argument("--model", required=True, help="the model that encoded (or will encode) the corpus")
    p.add_argument("--corpus", default=None, help="corpus sentences: .txt, .jsonl, .csv or .tsv")
    p.add_argument("--corpus-embeddings", default=None, help="precomputed corpus embeddings (.npy)")
    p.add_argument("--query", action="append", default=[], help="a query (repeat for several)")
    p.add_argument("--queries", default=None, help="a .txt file of queries, one per line")
    p.add_argument("--top-k", type=int, default=5, help="hits per query (default: 5)")
    add_input_options(p, "corpus", skip_help="skip empty corpus rows instead of failing (as `textcl encode "
                                             "--skip-empty` did for the corpus embeddings)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--backend", choices=("auto", "numpy", "faiss"), default="auto",
                   help="auto: faiss (exact inner product) when importable, else numpy")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Encode queries (and corpus), search, print the hits."""
    from textcl.model import SentenceEncoder
    from textcl.search import cosine_top_k

    if args.corpus is None and args.corpus_embeddings is None:
        raise ValueError("pass --corpus (a text file), --corpus-embeddings (a .npy from `textcl encode`), or both")
    queries = list(args.query)
    if args.queries:
        queries += read_text_rows(args.queries)[1]
    if not queries:
        raise ValueError("pass at least one --query or a --queries file")
    lines, texts = read_text_rows(args.corpus, args.text_col, args.skip_empty) if args.corpus else (None, None)
    model = SentenceEncoder.from_pretrained(args.model, device=args.device)
    if args.corpus_embeddings:
        corpus = np.load(args.corpus_embeddings, mmap_mode="r")
        if corpus.ndim != 2:
            raise ValueError(f"{args.corpus_embeddings} holds an array of shape {corpus.shape}, not (rows, dim)")
        if texts is not None and len(texts) != corpus.shape[0]:
            raise ValueError(f"{args.corpus} has {len(texts)} rows but {args.corpus_embeddings} has "
                             f"{corpus.shape[0]}: pass the file (and --skip-empty setting) it was encoded from")
        if lines is None and os.path.isfile(line_numbers_path(args.corpus_embeddings)):
            lines = np.load(line_numbers_path(args.corpus_embeddings)).tolist()
    else:
        corpus = model.encode(texts, batch_size=args.batch_size)
    scores, ids = cosine_top_k(model.encode(queries, batch_size=args.batch_size), corpus, args.top_k,
                               backend=args.backend)
    results = []
    for query, score_row, id_row in zip(queries, scores, ids):
        hits = [{"rank": r, "score": round(float(s), 6), "row": int(i),
                 "line": lines[i] if lines is not None else None,
                 "text": texts[i] if texts is not None else None}
                for r, (s, i) in enumerate(zip(score_row, id_row), start=1)]
        results.append({"query": query, "hits": hits})
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return 0
    for res in results:
        print(f"query: {res['query']}")
        for h in res["hits"]:
            where = f"line {h['line']}" if h["line"] is not None else f"row {h['row']}"
            text = f"  {h['text']}" if h["text"] is not None else ""
            print(f"  {h['rank']:>3}  {h['score']:.4f}  {where}{text}")
    return 0
