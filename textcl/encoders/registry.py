"""Which class loads a saved encoder of a given kind."""

from __future__ import annotations

import importlib

from textcl.encoders.base import Encoder

__all__ = ["ENCODER_KINDS", "encoder_class"]

# kind -> "module:Class"; imported lazily so that loading a transformer never imports the RNN code.
ENCODER_KINDS: dict[str, str] = {
    "transformer": "textcl.encoders.transformer:TransformerEncoder",
    "rnn": "textcl.encoders.rnn:RNNEncoder",
    "word_average": "textcl.encoders.word_average:WordAverageEncoder",
    "cnn": "textcl.encoders.cnn:CNNEncoder",
}


def encoder_class(kind: str) -> type[Encoder]:
    """Return the encoder class registered for ``kind``."""
    if kind not in ENCODER_KINDS:
        raise ValueError(f"unknown encoder kind {kind!r}: known kinds are {', '.join(ENCODER_KINDS)}")
    module, name = ENCODER_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)
