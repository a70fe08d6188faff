"""Templates of the model cards textcl writes (package data read by :mod:`textcl.interop.model_card`)."""
