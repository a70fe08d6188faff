"""A textcl model as one sentence-transformers module, for the models its own modules cannot express.

A textcl folder whose model has no exact sentence-transformers pipeline (RNN, CNN and word-average
encoders; ``cls``, ``first_last_avg`` and ``last2_avg`` pooling) names :class:`TextclModule` in its
``modules.json`` (see :func:`textcl.interop.sentence_transformers.write_st_modules`). Because the class
lives outside the ``sentence_transformers`` package, sentence-transformers imports it only when asked
to run outside code::

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer("path/to/textcl-rnn-model", trust_remote_code=True)

The module loads the folder with :meth:`textcl.SentenceEncoder.from_pretrained` (``textcl_config.json``
and the manifest decide, as for textcl itself) and returns the float32 vectors textcl's ``encode`` does.
Where textcl is not installed, the import fails with ``No module named 'textcl'``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from textcl.model import SentenceEncoder

__all__ = ["TextclModule"]

# the files sentence-transformers writes around its modules' own (``SentenceTransformer.save``)
_ST_OWN_FILES = frozenset({"config_sentence_transformers.json", "modules.json", "README.md"})


class TextclModule(nn.Module):
    """The whole textcl model as sentence-transformers' one (input) module.

    ``tokenize`` / ``preprocess`` return the features ``forward`` takes; ``forward`` adds
    ``sentence_embedding``: encoder -> projection head -> the model's own normalisation.

    Args:
        model: the :class:`~textcl.model.SentenceEncoder` to run.
    """

    save_in_root = True  # the textcl folder is the model's root folder

    def __init__(self, model: SentenceEncoder) -> None:
        super().__init__()
        self.model = model

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token: bool | str | None = None,
             cache_folder: str | None = None, revision: str | None = None, local_files_only: bool = False,
             trust_remote_code: bool = False, model_kwargs: dict[str, Any] | None = None,
             **kwargs: Any) -> TextclModule:
        """Load the textcl folder (a local path or hub repo id) the way textcl does; sentence-transformers' keywords."""
        name = os.path.join(model_name_or_path, subfolder) if subfolder else model_name_or_path
        hub = {k: v for k, v in (("token", token), ("cache_folder", cache_folder), ("revision", revision)) if v}
        model = SentenceEncoder.from_pretrained(name, device="cpu", trust_remote_code=trust_remote_code,
                                                local_files_only=local_files_only, **hub, **(model_kwargs or {}))
        return cls(model)

    # ------------------------------------------------------------------ input
    @property
    def modalities(self) -> list[str]:
        """Only text."""
        return ["text"]

    @property
    def tokenizer(self) -> Any:
        """The encoder's tokenizer."""
        return self.model.encoder.tokenizer

    @property
    def max_seq_length(self) -> int:
        """Tokens kept per sentence (the encoder's ``max_length``)."""
        return self.model.encoder.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.model.encoder.max_length = value

    def tokenize(self, texts: list[str], **kwargs: Any) -> dict[str, torch.Tensor]:
        """The features :meth:`forward` takes, on the CPU (sentence-transformers moves them)."""
        return self.model.encoder.tokenize(list(texts))

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        """:meth:`tokenize` of ``prompt + text`` for each text."""
        texts = [prompt + text for text in inputs] if prompt else list(inputs)
        return self.tokenize(texts)

    # ------------------------------------------------------------------ forward
    def forward(self, features: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Add ``sentence_embedding`` (batch, dim), float32, as :meth:`SentenceEncoder.encode` computes it."""
        inputs = {k: v for k, v in features.items() if isinstance(v, torch.Tensor)}
        emb = self.model(inputs).float()  # (batch, dim)
        if self.model.normalize_embeddings:
            emb = nn.functional.normalize(emb, dim=-1)
        features["sentence_embedding"] = emb
        return features

    def get_sentence_embedding_dimension(self) -> int:
        """Size of the vectors (sentence-transformers' older name)."""
        return self.model.embedding_dim

    def get_embedding_dimension(self) -> int:
        """Size of the vectors."""
        return self.model.embedding_dim

    # ------------------------------------------------------------------ saving
    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        """Write the textcl folder to ``output_path`` (sentence-transformers' ``save`` calls this).

        The folder may already hold the files sentence-transformers writes around its modules (the textcl
        folder has its own); any other content is only replaced when it is a textcl model of the same kind.
        """
        existing = set(os.listdir(output_path)) if os.path.isdir(output_path) else set()
        if existing and existing <= _ST_OWN_FILES:  # what SentenceTransformer.save wrote before calling this
            for name in existing:
                os.remove(os.path.join(output_path, name))
        self.model.save(output_path)
