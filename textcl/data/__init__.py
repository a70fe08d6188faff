"""Every reader of user data: local files, folders, hub datasets, SentEval and SNLI files, bundled data.

Names load on first use, so importing a submodule (``textcl.data.files``) does not import ``datasets``.
"""

import importlib
from typing import Any

_EXPORTS = {**{name: "textcl.data.load" for name in ("load_data", "load_local", "is_saved_dataset", "check_data_file",
                                                     "select_columns", "check_text_columns", "FILE_BUILDERS")},
            **{name: "textcl.data.snli" for name in ("nli_to_triplets", "load_senteval_snli", "read_senteval_snli")},
            "add_teacher_embeddings": "textcl.data.teacher"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'textcl.data' has no attribute {name!r}")
