"""Interoperability with the ecosystem: sentence-transformers folders, model cards, hub uploads.

Nothing here is imported by ``import textcl``; each module imports its library on use.
"""

__all__: list[str] = []
