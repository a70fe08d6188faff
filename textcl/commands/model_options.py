"""Command-line options that build a new SentenceEncoder (transformer or RNN)."""

from __future__ import annotations

import argparse

from textcl.encoders.pooling import POOLING_MODES
from textcl.model import SentenceEncoder
from textcl.projection import ProjectionHead

__all__ = ["add_model_options", "build_model"]


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add ``--model``, ``--encoder`` and the RNN / pooling / projection options to ``p``."""
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help="transformer: Hugging Face hub name or local folder (a textcl or sentence-transformers "
                        "folder too); rnn: optional folder of a saved textcl model to continue training")
    g.add_argument("--encoder", choices=("transformer", "rnn"), default="transformer",
                   help="encoder kind (default: transformer)")
    g.add_argument("--pooling", default=None,
                   help=f"transformer pooling: {', '.join(POOLING_MODES)} (default: saved setting, else mean); "
                        "rnn pooling: mean, max, last (default: max)")
    g.add_argument("--max-length", type=int, default=None, help="tokens kept per sentence")
    g.add_argument("--projection", action="store_true", help="add SimCSE's projection head (Linear + Tanh)")
    g.add_argument("--mlp-only-train", action="store_true", help="use the projection head in training only")
    g.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub (off by default)")
    r = p.add_argument_group("rnn encoder (--encoder rnn)")
    r.add_argument("--word-vectors", default="glove",
                   help="'glove' (packaged GloVe 6B 50-d), a GloVe/word2vec text file, or 'hf:NAME_OR_PATH' "
                        "to start from a transformer's token embeddings and tokenizer")
    r.add_argument("--vocab-size", type=int, default=50000, help="GloVe words kept (most frequent first)")
    r.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    r.add_argument("--hidden-size", type=int, default=256)
    r.add_argument("--num-layers", type=int, default=1)
    r.add_argument("--unidirectional", action="store_true", help="one direction only (default: bidirectional)")
    r.add_argument("--train-embeddings", action="store_true", help="fine-tune the word vectors (default: frozen)")
    r.add_argument("--dropout", type=float, default=0.1, help="embedding and output dropout")


def build_model(args: argparse.Namespace, corpus: list[str] | None = None) -> SentenceEncoder:
    """Build the model the options describe (a fresh RNN, or a loaded transformer / textcl folder)."""
    if args.encoder == "transformer" or args.model:
        if not args.model:
            raise SystemExit("error: --model is required for --encoder transformer "
                             "(a Hugging Face name or a local folder)")
        return SentenceEncoder.from_pretrained(args.model, pooling=args.pooling, max_length=args.max_length,
                                               projection=args.projection, mlp_only_train=args.mlp_only_train,
                                               trust_remote_code=args.trust_remote_code)
    from textcl.encoders.rnn import RNNEncoder

    kwargs = dict(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                  bidirectional=not args.unidirectional, pooling=args.pooling or "max",
                  embedding_dropout=args.dropout, output_dropout=args.dropout,
                  freeze_embeddings=not args.train_embeddings, max_length=args.max_length or 64)
    if args.word_vectors == "glove":
        encoder = RNNEncoder.from_glove(vocab_size=args.vocab_size, corpus=corpus, **kwargs)
    elif args.word_vectors.startswith("hf:"):
        encoder = RNNEncoder.from_transformer_embeddings(args.word_vectors[3:], **kwargs)
    else:
        encoder = RNNEncoder.from_word_vectors(args.word_vectors, **kwargs)
    head = ProjectionHead(encoder.embedding_dim, args.mlp_only_train) if args.projection else None
    return SentenceEncoder(encoder, head)
