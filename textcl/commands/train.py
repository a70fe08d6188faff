"""``textcl train``: contrastive training from the command line."""

from __future__ import annotations

import argparse
import json

from textcl.commands.data_options import add_data_config_option
from textcl.commands.flags import add_threads_option, removed_flag
from textcl.commands.model_options import add_model_options, build_model
from textcl.commands.run_spec import (
    EVALUATOR_SECTION,
    apply_run_record,
    evaluator_record,
    read_run_record,
    record_sections,
    spec_from_args,
)
from textcl.commands.train_datasets import corpus_texts, entries_record, entry_inputs, load_datasets, load_one
from textcl.losses import (
                           AnglELoss,
                           CoSENTLoss,
                           CosineSimilarityLoss,
                           GISTEmbedLoss,
                           InfoNCE,
                           MatryoshkaLoss,
                           MSELoss,
                           OnlineContrastiveLoss,
                           PairwiseContrastiveLoss,
                           TripletLoss,
)
from textcl.train.config import (
    DATASETS_SECTION,
    MULTI_DATASET_BATCH_SAMPLERS,
    TrainConfig,
    load_config,
    read_datasets_section,
)
from textcl.views import AUGMENTATIONS, make_view, parse_view_spec

__all__ = ["LOSSES", "build_loss", "register", "run"]

LOSSES = ("infonce", "triplet", "pairwise", "cosent", "angle", "cosine_similarity", "online_contrastive", "mse",
          "gist_embed")

_CONFIG_FLAGS = ("epochs", "max_steps", "batch_size", "grad_accum_steps", "lr", "weight_decay", "warmup_ratio",
                 "max_grad_norm", "dtype", "seed", "eval_steps", "save_steps", "log_steps", "output_dir",
                 "gradcache_chunk", "no_duplicates", "queue_size", "momentum", "report_to", "threads",
                 "multi_dataset_batch_sampler")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser("train", help="train a sentence encoder contrastively",
                              description="Train a sentence encoder with a positive view and a contrastive loss. "
                                          "Flags override values from --config (YAML of TrainConfig fields).")
    add_model_options(p)
    d = p.add_argument_group("data")
    d.add_argument("--data", default=None,
                   help="local csv/tsv/json/jsonl/parquet/txt file or folder, a Hugging Face dataset name, or "
                        "'senteval-snli:FOLDER' for SentEval's SNLI files as NLI triplets (with --split, e.g. dev,test)")
    d.add_argument("--split", default="train", help="dataset split (default: train)")
    d.add_argument("--data-revision", default=None,
                   help="branch, tag or commit of a hub --data repo (--token and --cache-folder apply too)")
    add_data_config_option(d)
    d.add_argument("--columns", default=None,
                   help="comma-separated columns in the order the view reads them, e.g. premise,entailment,contradiction")
    d.add_argument("--view", type=_view_spec, default="dropout",
                   help="dropout: one text column (unsupervised SimCSE); pair: anchor,positive; triplet: "
                        "anchor,positive,hard negative; labeled_pair: text1,text2,label (pairwise loss). "
                        "Augmentations follow with '+', each optionally '=rate' and '@anchor|positive|both', "
                        "applied in the order written: e.g. dropout+word_repetition, "
                        f"dropout+token_shuffle+feature_cutoff=0.2. Augmentations: {', '.join(AUGMENTATIONS)} "
                        "(docs/views.md)")
    dup = d.add_mutually_exclusive_group()
    dup.add_argument("--no-duplicates", dest="no_duplicates", action="store_const", const=True, default=None,
                     help="batches never repeat a text (default for pair and triplet views)")
    dup.add_argument("--allow-duplicates", dest="no_duplicates", action="store_const", const=False,
                     help="plain shuffled batches, repeated texts allowed (default for dropout and labeled_pair)")
    o = p.add_argument_group("objective")
    o.add_argument("--loss", choices=LOSSES, default="infonce",
                   help="infonce, triplet, gist_embed (needs --guide): pair or triplet views; pairwise, "
                        "online_contrastive: labeled_pair; cosent, angle, cosine_similarity (scores in [0, 1]): "
                        "scored_pair; mse: distillation (text, teacher vector)")
    o.add_argument("--temperature", type=float, default=0.05)
    o.add_argument("--hard-negative-weight", type=float, default=1.0, help="SimCSE's alpha for hard negatives")
    o.add_argument("--symmetric", action="store_true", help="InfoNCE in both directions")
    o.add_argument("--mask-duplicates", action="store_true",
                   help="InfoNCE: drop negatives whose text equals the anchor's or its positive's (false negatives)")
    o.add_argument("--queue-size", type=int,
                   help="InfoNCE: a FIFO queue of this many momentum-encoder embeddings as extra negatives "
                        "(ESimCSE / MoCo; 0 = off)")
    o.add_argument("--momentum", type=float, help="EMA factor of the momentum encoder (default 0.995)")
    o.add_argument("--margin", type=float, default=None,
                   help="margin of the triplet / pairwise / online_contrastive loss")
    o.add_argument("--distance", choices=("euclidean", "cosine"), default="cosine")
    o.add_argument("--scale", type=float, default=20.0, help="cosent / angle: the inverse temperature (default 20)")
    o.add_argument("--guide", default=None, help="gist_embed: the guide model (a folder or hub name); its "
                   "similarities mask in-batch negatives it scores above the positive (the loss uses --temperature; "
                   "sentence-transformers' default is 0.01)")
    o.add_argument("--matryoshka-dims", default=None, metavar="D1,D2,...",
                   help="wrap the loss in MatryoshkaLoss over these embedding sizes, e.g. 384,256,128,64")
    t = p.add_argument_group("training")
    t.add_argument("--config", default=None,
                   help="YAML/JSON file of training settings, or a run's train_config.json (repeats that run: its "
                        "model, data, view and loss too); flags given here win. A 'datasets:' section trains on "
                        "several datasets (each entry: data, config, split, columns, view, loss, weight)")
    t.add_argument("--multi-dataset-batch-sampler", choices=MULTI_DATASET_BATCH_SAMPLERS, default=None,
                   help="with several datasets: proportional (every batch of each, in a seeded random order; "
                        "default) or round_robin (one batch of each in turn until the smallest runs out)")
    t.add_argument("--report-to", dest="report_to", default=None,
                   help="experiment trackers: none, tensorboard, wandb (comma-separated)")
    t.add_argument("--overwrite", action="store_true", help="replace an earlier run in --output")
    t.add_argument("--allow-changed-settings", action="store_true",
                   help="with --resume: continue even if lr, batch size, seed, model, data, view or loss changed")
    t.add_argument("--epochs", type=int)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--grad-accum-steps", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--warmup-ratio", type=float)
    t.add_argument("--max-grad-norm", type=float)
    t.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"),
                   help="compute dtype (default float32)")
    t.add_argument("--precision", type=removed_flag("--precision", "--dtype"), help=argparse.SUPPRESS)
    t.add_argument("--seed", type=int)
    t.add_argument("--gradcache-chunk", type=int, help="encode batches in chunks of this size (GradCache)")
    t.add_argument("--eval-sts", default=None,
                   help="SentEval data/downstream folder: STS-B dev Spearman is measured every --eval-steps "
                        "and the best model kept")
    t.add_argument("--eval-steps", type=int)
    t.add_argument("--save-steps", type=int)
    t.add_argument("--log-steps", type=int)
    t.add_argument("--output", dest="output_dir", default=None, help="output folder (default: out/run)")
    t.add_argument("--resume", default=None, help="checkpoint folder to resume from (OUTPUT/checkpoint)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    h = p.add_argument_group("publishing")
    h.add_argument("--push-to-hub", default=None, metavar="REPO",
                   help="after training, upload the selected model and its card to hub repo REPO "
                        "(org/name; created if missing; uses --token)")
    h.add_argument("--private", action="store_true", help="create the --push-to-hub repo as private")
    h.add_argument("--license", default=None,
                   help="licence id for the model card (e.g. apache-2.0, mit); default: the base model's, "
                        "else 'other' with the reason")
    add_threads_option(p)
    p.set_defaults(func=run)
    record_sections(p)
    p.set_defaults(_loss_choices=next(a.choices for a in p._actions if a.dest == "loss"))


def build_loss(args: argparse.Namespace):
    """The loss module the options describe (wrapped in MatryoshkaLoss with ``--matryoshka-dims``)."""
    loss = _base_loss(args)
    dims = getattr(args, "matryoshka_dims", None)
    if dims:
        try:
            sizes = [int(d) for d in (dims.split(",") if isinstance(dims, str) else dims)]
        except ValueError:
            raise ValueError(f"--matryoshka-dims must be comma-separated sizes such as 384,256,128,64, "
                             f"got {dims!r}") from None
        loss = MatryoshkaLoss(loss, sizes)
    return loss


def _base_loss(args: argparse.Namespace):
    margin = args.margin if args.margin is not None else 0.5
    if args.loss == "infonce":
        return InfoNCE(temperature=args.temperature, hard_negative_weight=args.hard_negative_weight,
                       symmetric=args.symmetric, mask_duplicates=getattr(args, "mask_duplicates", False))
    if args.loss == "triplet":
        return TripletLoss(margin=margin, distance=args.distance)
    if args.loss in ("cosent", "angle"):
        return (CoSENTLoss if args.loss == "cosent" else AnglELoss)(scale=getattr(args, "scale", 20.0))
    simple = {"cosine_similarity": CosineSimilarityLoss, "mse": MSELoss}
    if args.loss in simple:
        return simple[args.loss]()
    if args.loss == "online_contrastive":
        return OnlineContrastiveLoss(margin=margin, distance=args.distance)
    if args.loss == "gist_embed":
        if not getattr(args, "guide", None):
            raise ValueError("--loss gist_embed needs --guide MODEL: the guide model whose similarities mask the "
                             "in-batch negatives")
        from textcl.model import SentenceEncoder

        return GISTEmbedLoss(SentenceEncoder.from_pretrained(args.guide, device=args.device),
                             temperature=args.temperature)
    return PairwiseContrastiveLoss(margin=margin, distance=args.distance)


def _view_spec(spec: str) -> str:
    """argparse type: a valid ``--view`` spec (the error names the allowed views and augmentations)."""
    try:
        parse_view_spec(spec)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return spec


def _card(args: argparse.Namespace, config: TrainConfig):
    """What the model card says about the run: base model, data, licence, view and the command."""
    import os
    import shlex
    import sys

    from textcl.hub import is_local_path
    from textcl.interop.model_card import ModelCard

    hub_model = bool(args.model) and not is_local_path(args.model)
    entries = getattr(args, "datasets", None)  # the YAML datasets: section, read by run()
    return ModelCard(name=os.path.basename(os.path.abspath(config.output_dir)),
                     base_model=args.model if hub_model else None,
                     initialised_from=None if hub_model else (args.model or f"{args.word_vectors} word vectors"),
                     datasets=[e["data"] for e in entries] if entries else [args.data],
                     license=args.license,
                     view="; ".join(f"{e['name']}: {e.get('view') or args.view}" for e in entries)
                     if entries else args.view,
                     recipe="textcl " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["train"] else None)


def _identified(args: argparse.Namespace) -> dict:
    """The run record, with local inputs identified by content: the data's SHA-256, the model's manifest."""
    import os

    from textcl.data.files import content_sha256
    from textcl.hub import is_local_path
    from textcl.storage import MANIFEST_FILE

    spec = spec_from_args(args)
    if args.datasets:
        spec["data"][DATASETS_SECTION] = entries_record(args.datasets)
    source = (args.data or "").split(":", 1)[1] if (args.data or "").startswith("senteval-snli:") else args.data
    if source and is_local_path(source) and os.path.exists(source):
        spec.setdefault("data", {})["sha256"] = content_sha256(source)
    manifest = os.path.join(args.model or "", MANIFEST_FILE)
    if args.model and os.path.isfile(manifest):
        spec.setdefault("model", {})["manifest_sha256"] = content_sha256(manifest)
    return spec


def run(args: argparse.Namespace) -> int:
    """Train and print where the model went."""
    from textcl.seeding import seed_everything
    from textcl.storage import check_not_an_input
    from textcl.train.distributed import cleanup, get_local_rank, init_distributed
    from textcl.train.run_folder import check_run_output
    from textcl.train.trainer import Trainer

    if args.config:
        record = read_run_record(args.config)
        if record is not None:
            apply_run_record(args, record)
    args.datasets = read_datasets_section(args.config) if args.config else None
    if args.datasets and (args.data or args.columns):
        raise ValueError(f"{args.config} names its datasets (a datasets: section): leave out --data and --columns")
    if not args.data and not args.datasets:
        raise ValueError("pass --data (a file, folder or hub dataset) or --config with a run's train_config.json")
    overrides = {k: getattr(args, k) for k in _CONFIG_FLAGS}
    config = load_config(args.config, **overrides) if args.config else TrainConfig(
        **{k: v for k, v in overrides.items() if v is not None})
    check_not_an_input(config.output_dir, {"--model": args.model, "--data": args.data, "--eval-sts": args.eval_sts,
                                           "--word-vectors": getattr(args, "word_vectors", None),
                                           **entry_inputs(args.datasets)})
    check_run_output(config.output_dir, resume=bool(args.resume), overwrite=args.overwrite)  # before loading
    if args.push_to_hub:
        from huggingface_hub.utils import validate_repo_id

        validate_repo_id(args.push_to_hub)  # a bad name fails now, not after training
    distributed = init_distributed()
    seed_everything(config.seed)  # vocabulary, OOV vectors and initial weights come from the run's seed
    view, loss, weights = make_view(args.view, seed=config.seed), build_loss(args), None
    if args.datasets:
        data, view, loss, weights = load_datasets(args, args.datasets, config.seed, build_loss)
    else:
        data = load_one(args, args.data, args.split, args.columns, args.data_config)
    if args.columns is None and not args.datasets and len(data.column_names) != len(view.columns):
        raise SystemExit(f"error: the {args.view} view reads {len(view.columns)} column(s) "
                         f"({', '.join(view.columns)}); the data has {', '.join(data.column_names)}. "
                         "Pick them with --columns.")
    corpus = corpus_texts(data, view)
    model = build_model(args, corpus=corpus if args.encoder != "transformer" else None)
    device = args.device or (f"cuda:{get_local_rank()}" if __import__("torch").cuda.is_available() else "cpu")
    model.to(device)
    evaluator, run_spec = None, _identified(args)
    if args.eval_sts:  # with --config of a run's record: that run's task, batch size and dtype
        from textcl.train.evaluators import STSDevEvaluator
        evaluator = STSDevEvaluator(args.eval_sts, **getattr(args, "eval_settings", {}))
        run_spec[EVALUATOR_SECTION] = evaluator_record(args.eval_sts, evaluator)
    trainer = Trainer(model, loss, view, data, config, evaluator=evaluator, loss_weights=weights,
                      metric_for_best=evaluator.metric if evaluator else None, run_spec=run_spec,
                      card=_card(args, config))
    result = trainer.train(resume_from=args.resume, overwrite=args.overwrite,
                           allow_changed_settings=args.allow_changed_settings)
    if trainer.is_main:
        print(json.dumps({"model": result.model_path, "steps": result.steps,
                          "train_seconds": round(result.train_seconds, 1),
                          "sentences_per_second": round(result.sentences_per_second, 1),
                          "best_dev": result.best_metric}, indent=2))
        if args.push_to_hub:
            from textcl.interop.push import push_to_hub

            url = push_to_hub(result.model_path, args.push_to_hub, token=args.token,
                              private=True if args.private else None)
            print(f"pushed {result.model_path} to {url}")
    if distributed:
        cleanup()
    return 0
