"""Sentence encoders: transformers and RNNs behind one interface."""

from textcl.encoders.base import Encoder, validate_texts

__all__ = ["Encoder", "validate_texts"]
