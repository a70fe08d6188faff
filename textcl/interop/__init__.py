"""Interoperability with the ecosystem: sentence-transformers folders, Hugging Face hub names, MTEB.

Nothing here is imported by ``import textcl``; each module imports its library on use.
"""

__all__: list[str] = []
