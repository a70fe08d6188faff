"""``textcl search``: the corpus sentences nearest to a query.

Argument parsing and printing only: the search itself is :mod:`textcl.search`
(``open_index`` over a saved ``.npy``, ``semantic_search``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from textcl.commands.encode import add_input_options, line_numbers_path
from textcl.commands.flags import add_threads_option
from textcl.commands.hub_options import add_hub_options, hub_kwargs
from textcl.data.files import read_text_rows
from textcl.settings import check_int
from textcl.storage.read import read_npy

__all__ = ["register", "run"]

# the pre-0.x --backend values all ran exact search; --index replaces the flag
DEPRECATED_BACKENDS = ("auto", "numpy", "faiss")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``search`` subcommand."""
    p = subparsers.add_parser(
        "search", help="find the corpus sentences nearest to a query",
        description="Top-k cosine search. The corpus is a text file (encoded here), or a .npy from `textcl encode` "
                    "(--corpus-embeddings, read memory-mapped) with, optionally, the text file it came from to show "
                    "the sentences. --index exact (default) scans every row; --index faiss builds an approximate "
                    "IVF-Flat index once, saves it next to the .npy (EMB.npy.faiss + EMB.npy.faiss.json) and "
                    "reuses it until the .npy changes.")
    p.add_argument("--model", required=True, help="the model that encoded (or will encode) the corpus")
    p.add_argument("--corpus", default=None, help="corpus sentences: .txt, .jsonl, .csv or .tsv")
    p.add_argument("--corpus-embeddings", default=None, help="precomputed corpus embeddings (.npy)")
    p.add_argument("--query", action="append", default=[], help="a query (repeat for several)")
    p.add_argument("--queries", default=None, help="a .txt file of queries, one per line")
    p.add_argument("--top-k", type=int, default=5, help="hits per query (default: 5)")
    add_input_options(p, "corpus", skip_help="skip empty corpus rows instead of failing (as `textcl encode "
                                             "--skip-empty` did for the corpus embeddings)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--index", choices=("exact", "faiss"), default="exact",
                   help="exact: scan every row (default); faiss: approximate IVF-Flat index, saved and reused "
                        '(needs pip install "textcl-toolkit[faiss]" and --corpus-embeddings)')
    p.add_argument("--index-path", default=None, help="where the faiss index lives (default: EMBEDDINGS.faiss)")
    p.add_argument("--nprobe", type=int, default=None,
                   help="faiss lists scanned per query: more is slower and closer to exact (default: nlist/32)")
    p.add_argument("--nlist", type=int, default=None,
                   help="faiss lists when building (default: 4*sqrt(rows)); a saved index with another nlist is "
                        "rebuilt")
    p.add_argument("--rebuild-index", action="store_true", help="rebuild the faiss index even if it is current")
    p.add_argument("--backend", choices=DEPRECATED_BACKENDS, default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    add_hub_options(p)
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the inputs, open the index, encode the queries, search, print the hits."""
    from textcl.search import open_embeddings, open_index, require_faiss, semantic_search

    if args.backend is not None:
        print("textcl search: warning: --backend is deprecated; it always meant exact search, now "
              "--index exact (the default). Use --index faiss for the approximate index.", file=sys.stderr)
    if args.corpus is None and args.corpus_embeddings is None:
        raise ValueError("pass --corpus (a text file), --corpus-embeddings (a .npy from `textcl encode`), or both")
    check_int("top_k", args.top_k)
    check_int("batch_size", args.batch_size)
    if args.index == "faiss":
        try:
            require_faiss()
        except ImportError as err:  # textcl.cli reports ValueErrors as "textcl search: error: ..." with exit 1
            raise ValueError(str(err)) from err
        if args.corpus_embeddings is None:
            raise ValueError("--index faiss needs --corpus-embeddings: encode the corpus once with `textcl encode` "
                             "so the index can be saved next to the .npy and reused")
    queries = list(args.query)
    if args.queries:
        queries += read_text_rows(args.queries)[1]
    if not queries:
        raise ValueError("pass at least one --query or a --queries file")
    lines, texts = read_text_rows(args.corpus, args.text_col, args.skip_empty) if args.corpus else (None, None)
    index = None
    if args.corpus_embeddings:
        rows = open_embeddings(args.corpus_embeddings).shape[0]
        if texts is not None and len(texts) != rows:
            raise ValueError(f"{args.corpus} has {len(texts)} rows but {args.corpus_embeddings} has "
                             f"{rows}: pass the file (and --skip-empty setting) it was encoded from")
        if lines is None and os.path.isfile(line_numbers_path(args.corpus_embeddings)):
            lines = read_npy(line_numbers_path(args.corpus_embeddings)).tolist()
            if len(lines) != rows:
                raise ValueError(f"{line_numbers_path(args.corpus_embeddings)} holds {len(lines)} line numbers for "
                                 f"{rows} embeddings: it belongs to another encode; delete it or encode again")
        # before the model loads: a bad .npy (or a faiss build over one) fails fast
        index, status = open_index(args.index, args.corpus_embeddings, index_path=args.index_path,
                                   nlist=args.nlist, nprobe=args.nprobe, rebuild=args.rebuild_index)
        if status:
            print(f"textcl search: {status}", file=sys.stderr)
    elif any(v is not None for v in (args.index_path, args.nlist, args.nprobe)) or args.rebuild_index:
        raise ValueError("--index-path, --nlist, --nprobe and --rebuild-index apply to --index faiss over "
                         "--corpus-embeddings")
    from textcl.model import SentenceEncoder

    model = SentenceEncoder.from_pretrained(args.model, device=args.device, **hub_kwargs(args))
    hits = semantic_search(model, queries, corpus=texts, index=index, top_k=args.top_k, batch_size=args.batch_size)
    results = [{"query": query, "hits": [
        {"rank": r, "score": round(h.score, 6), "row": h.corpus_id,
         "line": lines[h.corpus_id] if lines is not None else None, "text": h.text}
        for r, h in enumerate(query_hits, start=1)]} for query, query_hits in zip(queries, hits)]
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
