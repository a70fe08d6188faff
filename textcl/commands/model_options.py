"""Command-line options that build a new SentenceEncoder (transformer, RNN or CNN)."""

from __future__ import annotations

import argparse

from textcl.commands.hub_options import add_hub_options, hub_kwargs
from textcl.encoders.pooling import POOLING_MODES
from textcl.model import SentenceEncoder
from textcl.projection import ProjectionHead

__all__ = ["add_model_options", "build_model", "kernel_sizes"]


def kernel_sizes(text: str) -> tuple[int, ...]:
    """Parse ``--kernel-sizes`` (``"3,4,5"``) into distinct convolution widths >= 1."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers: write e.g. 3,4,5") from None
    if any(k < 1 for k in sizes) or len(set(sizes)) != len(sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: kernel sizes must be distinct integers >= 1, e.g. 3,4,5")
    return sizes


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add ``--model``, ``--encoder`` and the RNN / CNN / pooling / projection options to ``p``."""
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help="transformer: Hugging Face hub name or local folder (a textcl or sentence-transformers "
                        "folder too); rnn / cnn: optional folder of a saved textcl model to continue training")
    g.add_argument("--encoder", choices=("transformer", "rnn", "cnn"), default="transformer",
                   help="encoder kind (default: transformer)")
    g.add_argument("--pooling", default=None,
                   help=f"transformer pooling: {', '.join(POOLING_MODES)} (default: saved setting, else mean); "
                        "rnn pooling: mean, max, last (default: max); cnn pooling: max, mean (default: max)")
    g.add_argument("--max-length", type=int, default=None, help="tokens kept per sentence")
    g.add_argument("--projection", action="store_true", help="add SimCSE's projection head (Linear + Tanh)")
    g.add_argument("--mlp-only-train", action="store_true", help="use the projection head in training only")
    g.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub (off by default)")
    add_hub_options(p)
    r = p.add_argument_group("word-vector encoders (--encoder rnn / cnn)")
    r.add_argument("--word-vectors", default="glove",
                   help="'glove' (packaged GloVe 6B 50-d), a GloVe/word2vec text file, or 'hf:NAME_OR_PATH' "
                        "to start from a transformer's token embeddings and tokenizer")
    r.add_argument("--vocab-size", type=int, default=50000, help="GloVe words kept (most frequent first)")
    r.add_argument("--train-embeddings", action="store_true", help="fine-tune the word vectors (default: frozen)")
    r.add_argument("--dropout", type=float, default=0.1, help="embedding and output dropout")
    r.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="rnn: recurrent cell")
    r.add_argument("--hidden-size", type=int, default=256, help="rnn: hidden size per direction")
    r.add_argument("--num-layers", type=int, default=1, help="rnn: stacked layers")
    r.add_argument("--unidirectional", action="store_true",
                   help="rnn: one direction only (default: bidirectional)")
    r.add_argument("--kernel-sizes", type=kernel_sizes, default=(3, 4, 5),
                   help="cnn: comma-separated convolution widths in tokens (default: 3,4,5)")
    r.add_argument("--num-filters", type=int, default=100, help="cnn: filters per width (default: 100)")


def build_model(args: argparse.Namespace, corpus: list[str] | None = None) -> SentenceEncoder:
    """Build the model the options describe (a fresh RNN or CNN, or a loaded transformer / textcl folder).

    ``corpus``: sentences whose GloVe-known words join the vocabulary of a new
    word-vector encoder (``--word-vectors glove``).
    """
    if args.encoder == "transformer" or args.model:
        if not args.model:
            raise SystemExit("error: --model is required for --encoder transformer "
                             "(a Hugging Face name or a local folder)")
        return SentenceEncoder.from_pretrained(args.model, pooling=args.pooling, max_length=args.max_length,
                                               projection=args.projection, mlp_only_train=args.mlp_only_train,
                                               trust_remote_code=args.trust_remote_code, **hub_kwargs(args))
    common = dict(embedding_dropout=args.dropout, output_dropout=args.dropout,
                  freeze_embeddings=not args.train_embeddings, max_length=args.max_length or 64)
    if args.encoder == "cnn":
        from textcl.encoders.cnn import CNNEncoder

        cls = CNNEncoder
        kwargs = dict(kernel_sizes=args.kernel_sizes, num_filters=args.num_filters,
                      pooling=args.pooling or "max", **common)
    else:
        from textcl.encoders.rnn import RNNEncoder

        cls = RNNEncoder
        kwargs = dict(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                      bidirectional=not args.unidirectional, pooling=args.pooling or "max", **common)
    if args.word_vectors == "glove":
        encoder = cls.from_glove(vocab_size=args.vocab_size, corpus=corpus, **kwargs)
    elif args.word_vectors.startswith("hf:"):
        encoder = cls.from_transformer_embeddings(args.word_vectors[3:], **kwargs)
    else:
        encoder = cls.from_word_vectors(args.word_vectors, **kwargs)
    head = ProjectionHead(encoder.embedding_dim, args.mlp_only_train) if args.projection else None
    return SentenceEncoder(encoder, head)
