"""Model cards: a ``README.md`` made with ``huggingface_hub.ModelCard`` for every trained model.

The card's YAML front matter is a :class:`huggingface_hub.ModelCardData`:
``base_model`` (a hub repo id, only when the weights came from one),
``datasets``, ``license``, ``library_name: textcl``, ``pipeline_tag:
sentence-similarity``, tags, and a ``model-index`` of
:class:`huggingface_hub.EvalResult` entries. Only held-out results go into the
``model-index`` (each with its split); scores used to select the checkpoint
(STS-B dev) are shown in the card's body, apart from them.

A textcl folder also carries sentence-transformers' pipeline files (``docs/format.md``), so its card
shows ``SentenceTransformer(path)`` directly (with ``trust_remote_code=True`` for the models that need
textcl's own module); an export (``model.save(new_path, format="sentence-transformers")``) writes its
own card (``folder_format="sentence-transformers"``).

A card that records no training run (:func:`resave_card`: a model saved as it was loaded) says what
the model is and where it came from, with no training section. ``datasets:`` holds hub dataset names
only; local data is described in the text by its file name (:func:`card_datasets`).

Example:
    >>> card = ModelCard(name="my-simcse", base_model="google-bert/bert-base-uncased",
    ...                  datasets=["sentence-transformers/all-nli"], loss="InfoNCE(temperature=0.05)",
    ...                  view="triplet", license="apache-2.0",
    ...                  results=[CardResult("stsb", "test", "spearman", 81.6)])
    >>> write_model_card("out/run/model", card, model)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Literal

import torch
import yaml

from textcl.interop.card_sources import card_datasets, infer_base_model, loaded_from, source_text

__all__ = [
    "CITATION",
    "TASK_NAMES",
    "CardResult",
    "ModelCard",
    "card_datasets",
    "environment",
    "hardware_description",
    "infer_base_model",
    "render_model_card",
    "resave_card",
    "resolve_license",
    "selection_result",
    "versions",
    "write_model_card",
]

#: textcl task id -> (dataset name shown on the card, model-index task type, metric's display name).
TASK_NAMES: dict[str, tuple[str, str, str]] = {
    "stsb": ("STS Benchmark (SentEval files)", "sentence-similarity", "Spearman (cosine) x100"),
    "sickr": ("SICK-R", "sentence-similarity", "Spearman (cosine) x100"),
    **{f"sts{y}": (f"STS{y} (all)", "sentence-similarity", "Spearman (cosine) x100") for y in range(12, 17)},
    "cr": ("CR (SentEval probe)", "text-classification", "accuracy x100"),
    "mr": ("MR (SentEval probe)", "text-classification", "accuracy x100"),
    "sst2": ("SST-2 (SentEval probe)", "text-classification", "accuracy x100"),
}

CITATION = """@software{textcl,
  title = {textcl: contrastive sentence embeddings},
  url = {https://github.com/textcl/textcl},
  year = {2026}
}

@inproceedings{gao2021simcse,
  title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
  author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
  booktitle = {Empirical Methods in Natural Language Processing (EMNLP)},
  year = {2021}
}"""

_SELECTION_SPLITS = ("dev", "validation", "trial")
_LICENSE_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_+]*$")


@dataclass
class CardResult:
    """One measured figure.

    Attributes:
        task: textcl task id (``stsb``, ``sickr``, ``cr``, ...) or another dataset name.
        split: the split scored (``test``; ``dev`` for a selection score).
        metric: ``spearman``, ``pearson``, ``accuracy``, ...
        value: the figure, x100 as textcl reports it.
        used_for_selection: the checkpoint was chosen on this figure (default: the split
            is ``dev`` / ``validation`` / ``trial``). Such figures never enter the ``model-index``.
    """

    task: str
    split: str
    metric: str
    value: float
    used_for_selection: bool | None = None

    def __post_init__(self) -> None:
        if self.used_for_selection is None:
            self.used_for_selection = self.split.lower() in _SELECTION_SPLITS
        if not isinstance(self.value, (int, float)) or isinstance(self.value, bool):
            raise TypeError(f"result {self.task}/{self.split}/{self.metric}: value must be a number, "
                            f"got {self.value!r}")


def selection_result(metric_key: str, value: float) -> CardResult:
    """The dev score a trainer selected on, from its evaluator's key (``stsb_dev_spearman``)."""
    parts = metric_key.split("_")
    if len(parts) >= 3 and parts[-2].lower() in _SELECTION_SPLITS:
        return CardResult("_".join(parts[:-2]), parts[-2], parts[-1], float(value), used_for_selection=True)
    return CardResult(metric_key, "dev", metric_key, float(value), used_for_selection=True)


@dataclass
class ModelCard:
    """What a model card says.

    Attributes:
        name: the model's name (title of the card and ``model-index`` name).
        base_model: hub repo id of the starting checkpoint, or None (a model built from
            word vectors, or started from a local folder).
        datasets: training data (hub dataset ids where there is one, else descriptions).
        loss: the objective, e.g. ``InfoNCE(temperature=0.05)``.
        view: the positive view (``dropout``, ``pair``, ``triplet``, ``labeled_pair``, ...).
        license: licence id (``apache-2.0``, ``mit``, ...). None: the base model's, else ``other``.
        initialised_from: where the weights came from when not a hub id (a local folder,
            or e.g. ``GloVe 6B 50d``); a folder's own card gives the licence.
        license_note: why the licence is what it is (filled in when it falls back to ``other``).
        hyperparameters: training settings shown in the card.
        train_seconds: wall time of training.
        hardware: where training ran (default: this machine, when the card is written).
        versions: textcl / torch / transformers versions of the run (default: installed ones).
        results: measured figures (:class:`CardResult`).
        recipe: the exact command that trained the model.
        extra_rows: further (setting, value) rows for the training table.
        tags: tags added to textcl's own.
        trained: whether the card describes a training run. ``None``: when it records any of
            ``datasets``, ``loss``, ``view``, ``hyperparameters``, ``train_seconds``, ``recipe``.
            A card of a re-saved model (:func:`resave_card`) has no training section.
    """

    name: str
    base_model: str | None = None
    datasets: list[str] = field(default_factory=list)
    loss: str | None = None
    view: str | None = None
    license: str | None = None
    initialised_from: str | None = None
    license_note: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    train_seconds: float | None = None
    hardware: str | None = None
    versions: dict[str, str] | None = None
    results: list[CardResult] = field(default_factory=list)
    recipe: str | None = None
    extra_rows: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    trained: bool | None = None

    def records_training(self) -> bool:
        """Whether the card has a training section (``trained``, else what the card records)."""
        if self.trained is not None:
            return self.trained
        return bool(self.datasets or self.loss or self.view or self.hyperparameters
                    or self.train_seconds is not None or self.recipe)


def hardware_description() -> str:
    """A short description of where this process runs (GPU name, or CPU and core count)."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def versions() -> dict[str, str]:
    """Versions of textcl and the libraries that shape its numbers (torch, transformers)."""
    import transformers

    from textcl import __version__

    return {"textcl": __version__, "torch": torch.__version__, "transformers": transformers.__version__}


def environment() -> dict[str, str]:
    """Versions of textcl, torch and transformers, and the hardware (what a results JSON records)."""
    return {**versions(), "hardware": hardware_description()}


def resave_card(name: str, model: Any) -> ModelCard:
    """The card of a model saved as it was loaded: what it is and where it came from, no training section.

    ``base_model`` is the hub repo id it was loaded from; a model loaded from a local folder names
    that folder in the card's text instead (and inherits its licence from the folder's card).
    """
    base = infer_base_model(model)
    source = None if base else loaded_from(model)
    return ModelCard(name=name, base_model=base,
                     initialised_from=source if source and os.path.isdir(os.path.expanduser(source)) else None,
                     trained=False)


def _card_license(readme: str | None) -> str | None:
    if not readme or not os.path.isfile(readme):
        return None
    from huggingface_hub import ModelCard as HFModelCard

    try:
        lic = HFModelCard.load(readme).data.to_dict().get("license")
    except (ValueError, yaml.YAMLError):  # a card with broken front matter names no licence we can trust
        return None
    return lic if isinstance(lic, str) and lic else None


def _base_readme(card: ModelCard) -> str | None:
    """The base model's README.md: in a local starting folder, else in the hub cache (never downloaded)."""
    if card.initialised_from and os.path.isdir(os.path.expanduser(card.initialised_from)):
        return os.path.join(os.path.expanduser(card.initialised_from), "README.md")
    if card.base_model:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(card.base_model, "README.md")
        return found if isinstance(found, str) else None
    return None


def resolve_license(card: ModelCard) -> tuple[str, str | None]:
    """The card's licence and, when it is a fallback, the sentence saying why.

    Order: ``card.license`` (``--license``), else the base model's (from its card, read
    locally or from the hub cache), else ``other``.

    Raises:
        ValueError: ``card.license`` is not a licence id such as ``apache-2.0``.
    """
    if card.license is not None:
        if not _LICENSE_RE.match(card.license):
            raise ValueError(f"license {card.license!r} is not a licence id: use a lower-case Hugging Face "
                             "licence identifier such as 'apache-2.0', 'mit', 'cc-by-sa-4.0' or 'other'")
        return card.license, card.license_note
    inherited = _card_license(_base_readme(card))
    if inherited:
        source = card.base_model or source_text(card.initialised_from)
        return inherited, card.license_note or f"Licence inherited from the base model ({source})."
    folder = card.initialised_from and os.path.isdir(os.path.expanduser(card.initialised_from))
    if card.base_model or folder:
        why = (f"no licence was given (`--license`) and the base model's licence "
               f"({card.base_model or source_text(card.initialised_from)}) could not be read offline")
    else:
        why = "no licence was given (`--license`) and the model has no hub base model to inherit one from"
    note = f"The licence is `other` because {why}."
    if card.license_note:
        note += " " + card.license_note
    return "other", note


def _model_facts(model: Any) -> dict[str, Any]:
    if model is None:
        return {"kind": None, "dim": None, "description": "a sentence encoder", "similarity": "cosine",
                "st_exportable": False}
    kind = model.encoder.kind
    description = {"transformer": f"a transformer with {getattr(model.encoder, 'pooling', '?')} pooling",
                   "rnn": "a recurrent network over word vectors", "cnn": "a convolutional network over word vectors",
                   "word_average": "averaged word vectors"}.get(kind, kind)
    try:
        from textcl.interop.st_compat import check_st_exportable

        check_st_exportable(model)
        st_exportable = True
    except ValueError:
        st_exportable = False
    return {"kind": kind, "dim": model.embedding_dim, "description": description,
            "similarity": getattr(model, "similarity_fn_name", "cosine"), "st_exportable": st_exportable}


def _eval_results(card: ModelCard) -> list[Any]:
    """Held-out results as ``EvalResult`` (selection scores are left out of the model-index)."""
    from huggingface_hub import EvalResult

    out = []
    for r in card.results:
        if r.used_for_selection:
            continue
        dataset_name, task_type, metric_name = TASK_NAMES.get(r.task, (r.task, "sentence-similarity", r.metric))
        out.append(EvalResult(task_type=task_type, dataset_type=r.task, dataset_name=dataset_name,
                              dataset_split=r.split, metric_type=r.metric, metric_name=metric_name,
                              metric_value=round(float(r.value), 2)))
    return out


def _results_table(results: list[CardResult]) -> str:
    lines = ["| task | split | metric | value |", "|---|---|---|---:|"]
    for r in results:
        lines.append(f"| {TASK_NAMES.get(r.task, (r.task,))[0]} | {r.split} | {r.metric} | {r.value:.2f} |")
    return "\n".join(lines)


def _training_rows(card: ModelCard, license_id: str) -> list[tuple[str, str]]:
    versions = card.versions if card.versions is not None else {
        k: v for k, v in environment().items() if k != "hardware"}
    rows = [("base model", card.base_model or source_text(card.initialised_from) or "none (built from scratch)"),
            ("training data", ", ".join(card_datasets(card.datasets)[1]) or "not recorded"),
            ("positive view", card.view or "not recorded"), ("loss", card.loss or "not recorded")]
    rows += [(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in card.hyperparameters.items()]
    if card.train_seconds is not None:
        rows.append(("training time", f"{card.train_seconds / 60:.1f} min ({card.train_seconds:.0f} s)"))
    rows.append(("hardware", card.hardware or hardware_description()))
    rows += [(f"{lib} version", v) for lib, v in versions.items()] or [("versions", "not recorded")]
    rows.append(("licence", license_id))
    return rows + list(card.extra_rows)


def render_model_card(card: ModelCard, model: Any | None = None, path: str = "PATH",
                      folder_format: Literal["textcl", "sentence-transformers"] = "textcl",
                      model_facts: dict[str, Any] | None = None) -> Any:
    """Build the ``huggingface_hub.ModelCard`` (front matter + body) without writing it.

    Args:
        card: what to say.
        model: the :class:`textcl.SentenceEncoder`, to describe its encoder, size and exportability.
        path: the folder name shown in the usage snippets.
        folder_format: the folder the card describes: a textcl folder, or a sentence-transformers export.
        model_facts: what to say about the encoder when there is no ``model`` at hand: any of
            ``kind``, ``dim``, ``description``, ``similarity``, ``st_exportable``.

    Returns:
        A ``huggingface_hub.ModelCard``.
    """
    from huggingface_hub import ModelCard as HFModelCard
    from huggingface_hub import ModelCardData

    if folder_format not in ("textcl", "sentence-transformers"):
        raise ValueError(f"folder_format must be 'textcl' or 'sentence-transformers', got {folder_format!r}")
    if not isinstance(card.results, list) or not all(isinstance(r, CardResult) for r in card.results):
        raise TypeError("ModelCard.results must be a list of CardResult(task, split, metric, value), got "
                        f"{type(card.results).__name__}")
    license_id, license_note = resolve_license(card)
    facts = {**_model_facts(model), **(model_facts or {})}
    trained = card.records_training()
    tags = ["textcl", "sentence-embeddings", "sentence-similarity", *(["contrastive-learning"] * trained), *card.tags]
    if facts["kind"]:
        tags.append(f"{facts['kind']}-encoder")
    if folder_format == "sentence-transformers":
        tags.append("sentence-transformers")
    eval_results = _eval_results(card)
    data = ModelCardData(
        language=["en"], license=license_id, pipeline_tag="sentence-similarity",
        # an export is loaded by sentence-transformers: the hub's loader and widget go by library_name
        library_name="sentence-transformers" if folder_format == "sentence-transformers" else "textcl",
        tags=list(dict.fromkeys(tags)), base_model=card.base_model or None,
        datasets=card_datasets(card.datasets)[0] or None,
        eval_results=eval_results or None, model_name=card.name if eval_results else None)
    held_out = [r for r in card.results if not r.used_for_selection]
    selection = [r for r in card.results if r.used_for_selection]
    template = files("textcl.model_cards").joinpath("template.md").read_text(encoding="utf-8")
    return HFModelCard.from_template(
        data, template_str=template, name=card.name, facts=facts, path=json.dumps(path),
        folder_format=folder_format, license_id=license_id, license_note=license_note, recipe=card.recipe,
        trained=trained, base_model=card.base_model, source=source_text(card.initialised_from),
        training_rows=_training_rows(card, license_id),
        test_table=_results_table(held_out) if held_out else None,
        selection_table=_results_table(selection) if selection else None, citation=CITATION)


def write_model_card(path: str, card: ModelCard, model: Any | None = None, *,
                     folder_format: Literal["textcl", "sentence-transformers"] = "textcl",
                     usage_path: str | None = None, filename: str = "README.md") -> str:
    """Write the card into model folder ``path``; returns the file's path.

    Args:
        path: the saved model folder.
        card: what to say.
        model: the :class:`textcl.SentenceEncoder`, to describe its encoder and size.
        folder_format: ``"textcl"`` for a textcl folder, ``"sentence-transformers"`` for an export.
        usage_path: the folder name shown in the usage snippets (default: ``path``).
        filename: the card's file name inside ``path``.
    """
    hf_card = render_model_card(card, model, usage_path or path, folder_format)
    out = os.path.join(path, filename)
    with open(out, "w", encoding="utf-8") as f:
        f.write(str(hf_card))
    return out


def write_run_card(model_dir: str, card: ModelCard | None, model: Any, settings: dict[str, Any], loss: Any,
                   view: Any, train_time: float, metric: str | None, best: float | None) -> None:
    """Write the card of a training run's model: its settings, time and dev score (kept apart from test).

    Args:
        model_dir: the run's saved model folder.
        card: what the caller knows (base model, data, loss); a new card named after the run otherwise.
        settings: the run's ``TrainConfig.to_dict()``.
        metric, best: the dev metric that selected the model and its best value (``None``: no selection).
    """
    card = card or ModelCard(name=os.path.basename(os.path.abspath(settings["output_dir"])))
    card.base_model = card.base_model or infer_base_model(model)
    card.loss, card.view = card.loss or repr(loss), card.view or repr(view)
    card.hyperparameters = {k: v for k, v in settings.items() if k not in ("extra", "output_dir")}
    if getattr(loss, "matryoshka_dims", None):  # the sizes encode(truncate_dim=...) was trained for
        card.hyperparameters["matryoshka_dims"] = list(loss.matryoshka_dims)
    card.train_seconds = train_time
    if best is not None:
        card.results = [r for r in card.results if not r.used_for_selection] + [selection_result(metric, best)]
    write_model_card(model_dir, card, model)
