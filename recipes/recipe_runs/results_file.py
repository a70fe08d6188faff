"""One results file per recipe, one named entry per run.

A results file under ``results/`` is a JSON object ``{entry name: entry}``; each entry is what one command
wrote (its ``command``, ``started`` and figures). A run rewrites only its own entry, re-reading the file under
a lock each time, so runs of the same recipe in parallel processes keep each other's entries, and a
cut-short run keeps the figures it has so far.

Nothing machine-specific is stored: absolute paths in the command line and in settings are written relative
to the repository (``../shared/data``) or to the temporary folder (``$TMPDIR/run``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from typing import Any, Iterator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS_DIR = os.path.join(REPO, "results")
SELECTION_DIR = os.path.join(RESULTS_DIR, "selection")


def entry_name(stage: str, tag: str = "") -> str:
    """The entry a run writes: ``stage + tag`` (``select_8ep``), or the tag alone when it names the stage.

    Examples:
        >>> entry_name("select", "_round2"), entry_name("seeds", "_t003_seeds_s43"), entry_name("select")
        ('select_round2', 't003_seeds_s43', 'select')
    """
    return tag.lstrip("_") if tag and stage in tag else f"{stage}{tag}"


def portable(value: Any, repo: str = REPO) -> Any:
    """``value`` with every absolute path made machine-independent (strings, lists and dicts, recursively).

    A path inside the repository's parent folder becomes relative to the repository (``../shared/data``);
    one inside the temporary folder becomes ``$TMPDIR/...``; where both hold (a checkout under the
    temporary folder) the closer folder wins. Any other absolute path keeps its last part only
    (``<abs>/name``). ``--flag=/abs/path`` is handled too.
    """
    if isinstance(value, dict):
        return {k: portable(v, repo) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v, repo) for v in value]
    if not isinstance(value, str):
        return value
    if value.startswith("--") and "=" in value:
        flag, _, rest = value.partition("=")
        return f"{flag}={portable(rest, repo)}"
    if not os.path.isabs(value):
        return value
    path = os.path.normpath(value)
    roots = [(os.path.dirname(repo), None)] + [(t, "$TMPDIR") for t in (os.path.realpath(tempfile.gettempdir()),
                                                                        tempfile.gettempdir())]
    inside = [(root, shown) for root, shown in roots if path == root or path.startswith(root + os.sep)]
    if not inside:
        return "<abs>/" + os.path.basename(path)
    root, shown = max(inside, key=lambda r: (len(r[0]), r[1] is None))  # the closer folder; the repo on a tie
    return os.path.relpath(path, repo) if shown is None else shown + path[len(root):]


def command_line(argv: list[str] | None = None) -> str:
    """``python <script> <args>`` of this process, with :func:`portable` paths."""
    return " ".join(["python"] + portable(list(sys.argv if argv is None else argv)))


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive lock on ``path`` held through a lock file in the temporary folder (not in results/)."""
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): one writer at a time is the user's job
        yield
        return
    digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16]
    with open(os.path.join(tempfile.gettempdir(), f"textcl-results-{digest}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write itself: NumPy scalars and arrays, paths."""
    if hasattr(value, "tolist"):  # numpy scalar or array
        return value.tolist()
    if isinstance(value, os.PathLike):
        return portable(os.fspath(value))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def read_results(path: str) -> dict[str, Any]:
    """The entries of a results file (``{}`` when it does not exist yet)."""
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a results file holds a JSON object of named entries, found {type(data).__name__}")
    return data


class ResultsEntry:
    """One run's entry in a results file, rewritten after every addition.

    Args:
        path: the results file (created with its folder if missing).
        entry: the entry's name; an entry of that name from an earlier run is replaced.
        argv: the command line recorded as ``command`` (default ``sys.argv``).

    Example:
        >>> res = ResultsEntry("results/selection/quickstart.json", "select_8ep")  # doctest: +SKIP
        >>> res.add("runs", [{"candidate": "current", "stsb_dev": 73.73}])  # doctest: +SKIP
    """

    def __init__(self, path: str, entry: str, argv: list[str] | None = None) -> None:
        if not entry:
            raise ValueError("a results entry needs a name")
        self.path, self.entry = path, entry
        self.data: dict[str, Any] = {"command": command_line(argv), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.save()

    def add(self, key: str, value: Any) -> None:
        self.data[key] = portable(value)
        self.save()

    def save(self) -> None:
        with _locked(self.path):
            entries = read_results(self.path)
            entries[self.entry] = self.data
            fd, tmp = tempfile.mkstemp(prefix=".results-", dir=os.path.dirname(os.path.abspath(self.path)))
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entries, f, indent=2, default=_plain)
                f.write("\n")
            os.chmod(tmp, 0o644)  # mkstemp makes it private
            os.replace(tmp, self.path)
