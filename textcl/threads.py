"""The intra-op thread count of torch and ONNX Runtime: chosen from the cores other processes leave free.

Why: a parallel region (a matrix product split over ``T`` threads) ends when its
slowest thread does. When another process keeps one core busy, the thread that
shares that core runs at half speed or less, and every region waits for it:
two threads beside one busy process can be many times slower than one thread.
So an encode or a training run uses as many threads as there are cores free of
other work, never more than torch's own count (its default, or what the user set).

How:

- :func:`measure_load` reads each usable CPU's busy time (``/proc/stat``, or
  ``psutil`` where installed) at two moments, and subtracts this process's own
  CPU time: what is left is the other processes' load, in cores.
- :func:`choose_threads` is the pure rule: ``floor(free + slack)`` threads,
  between 1 and the available count.
- :class:`ThreadPlan` applies the choice for one encode or training run and
  restores torch's count afterwards. An encode's plan also counts the rows done
  (the counter behind ``textcl encode``'s progress display) and reads the load
  again over its first seconds, whenever the rows per second fall well below
  the best seen at the current count, and every ``RECHECK_S`` seconds; each
  reading re-decides. A training plan is fixed: a run never changes its
  thread count, so it repeats bit for bit at the same count.
- A pinned count (``threads=``, ``TrainConfig.threads``, ``--threads``, or
  ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` in the environment) is used as is.
- A small encode (at most ``SMALL_JOB_ROWS`` sentences: a query, a test) keeps
  torch's count: it measures nothing, and repeated calls give the same bits.

ONNX Runtime sessions follow ``torch.get_num_threads()`` at call time, so both
engines use the count the plan chose. Plans nest: a plan opened while another is
active (an encode inside a training run, a chunk inside ``textcl encode``) keeps
the outer plan's count and adds its rows to the outer counter.
"""

from __future__ import annotations

import contextvars
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from textcl.settings import check_int

__all__ = ["SLACK", "LoadReading", "ThreadPlan", "check_threads", "choose_threads", "env_pinned", "measure_load",
           "read_cpu_times", "split_threads", "usable_cores"]

#: a core counts as free when at least ``1 - SLACK`` of it is idle
SLACK = 0.3
#: seconds of one ``/proc/stat`` tick (USER_HZ = 100): a CPU's busy time over a window is counted in whole ticks
TICK_S = 0.01
#: seconds between the two readings of a fresh load measurement: one stray tick reads as
#: ``TICK_S / WINDOW_S`` of a core, below ``SLACK``, so it cannot take a thread away on a quiet machine
WINDOW_S = 0.1
#: the window of a plan decided once for the whole run (training): a longer, steadier reading
FIXED_WINDOW_S = 0.5
#: at the start of a run, an earlier sample younger than this is the start of the measurement (no waiting)
MAX_SAMPLE_AGE_S = 1.0
#: during a run, the load since the previous re-reading counts when it is younger than this
RUN_SAMPLE_AGE_S = 60.0
#: rows per second below this fraction of the best at the current count re-decide
DROP = 0.7
#: seconds of rows per throughput reading
CHECK_S = 2.0
#: seconds between re-readings when the throughput holds
RECHECK_S = 10.0
#: a job this small (rows) keeps torch's count: no measurement, and the same result bits call after call
SMALL_JOB_ROWS = 256
ENV_PINS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

_ACTIVE: contextvars.ContextVar[ThreadPlan | None] = contextvars.ContextVar("textcl_thread_plan", default=None)
_last_sample: tuple[float, dict[int, tuple[float, float]], float] | None = None


def check_threads(threads: int | None) -> int | None:
    """``threads`` if it is ``None`` (choose from the free cores) or an int >= 1, else ``ValueError``."""
    return None if threads is None else check_int("threads", threads)


def usable_cores() -> int:
    """Logical CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def env_pinned() -> bool:
    """True when ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` pins torch's thread count."""
    return any(os.environ.get(name, "").strip() for name in ENV_PINS)


def read_cpu_times(path: str = "/proc/stat") -> dict[int, tuple[float, float]] | None:
    """``{cpu: (busy seconds, total seconds)}`` since boot for each usable CPU, or None where unreadable.

    Busy is everything but idle and I/O wait (steal counts as busy: that core is not ours).
    Read from ``path`` (Linux's ``/proc/stat``), else from ``psutil`` when installed.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = None
    times: dict[int, tuple[float, float]] = {}
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if not (line.startswith("cpu") and line[3:4].isdigit()):
                    continue
                name, *fields = line.split()
                values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
                idle = values[3] + (values[4] if len(values) > 4 else 0)
                times[int(name[3:])] = ((sum(values) - idle) / 100.0, sum(values) / 100.0)  # USER_HZ ticks
    except (OSError, ValueError, IndexError):
        times = _psutil_cpu_times()
    if not times:
        return None
    return {cpu: t for cpu, t in times.items() if allowed is None or cpu in allowed} or None


def _psutil_cpu_times() -> dict[int, tuple[float, float]]:
    try:
        import psutil
    except ImportError:
        return {}
    out = {}
    for cpu, t in enumerate(psutil.cpu_times(percpu=True)):
        idle = t.idle + getattr(t, "iowait", 0.0)
        total = sum(t)
        out[cpu] = (total - idle, total)
    return out


@dataclass(frozen=True)
class LoadReading:
    """The CPUs' load over one window.

    Attributes:
        cpu_busy: fraction of the window each usable CPU was busy (every process, this one included).
        own: cores' worth of CPU this process used in the window.
        seconds: the window's length.
    """

    cpu_busy: tuple[float, ...]
    own: float
    seconds: float

    @property
    def others(self) -> float:
        """Cores kept busy by other processes."""
        return max(0.0, sum(self.cpu_busy) - self.own)

    @property
    def free_cores(self) -> float:
        """Cores left free by other processes (this one's own work counts as free)."""
        return max(0.0, len(self.cpu_busy) - self.others)


def _sample() -> tuple[float, dict[int, tuple[float, float]], float] | None:
    times = read_cpu_times()
    return None if times is None else (time.monotonic(), times, time.process_time())


def _reading(start: tuple, end: tuple) -> LoadReading:
    t0, cpus0, own0 = start
    t1, cpus1, own1 = end
    busy = []
    for cpu, (b1, total1) in cpus1.items():
        b0, total0 = cpus0.get(cpu, (b1, total1))
        span = total1 - total0
        busy.append(min(1.0, max(0.0, (b1 - b0) / span)) if span > 0 else 0.0)
    seconds = max(t1 - t0, 1e-9)
    return LoadReading(tuple(busy), max(0.0, (own1 - own0) / seconds), seconds)


def measure_load(window: float = WINDOW_S, wait: bool = True, max_age: float = MAX_SAMPLE_AGE_S
                 ) -> LoadReading | None:
    """The load since the previous sample (if it is ``window`` to ``max_age`` seconds old),
    else over a fresh ``window`` (sleeping that long; never when ``wait`` is False).

    Returns None where CPU times cannot be read, or when a fresh window would be needed and ``wait`` is False.
    """
    global _last_sample
    now = _sample()
    if now is None:
        return None
    start, _last_sample = _last_sample, now
    if start is not None and window <= now[0] - start[0] <= max_age:
        return _reading(start, now)
    if not wait:
        return None
    time.sleep(window)
    end = _sample()
    if end is None:
        return None
    _last_sample = end
    return _reading(now, end)


def choose_threads(free_cores: float, available: int, slack: float = SLACK) -> int:
    """The intra-op thread count for ``free_cores`` cores free of other work: ``floor(free_cores + slack)``,
    at least 1 and at most ``available``.

    Args:
        free_cores: cores not used by other processes (:attr:`LoadReading.free_cores`).
        available: the most threads to use (torch's count, capped by the usable CPUs).
        slack: how busy a core may be and still count as free.
    """
    if available < 1:
        raise ValueError(f"available must be >= 1, got {available}")
    if not math.isfinite(free_cores):
        return available
    return max(1, min(available, math.floor(free_cores + slack + 1e-9)))


def split_threads(workers: int, threads: int | None = None, reader: Callable[..., LoadReading | None] | None = None
                  ) -> int:
    """Threads for each of ``workers`` CPU worker processes: ``threads`` if given, else the count a plan
    would choose now, divided among them (at least 1 each)."""
    if threads is not None:
        return check_threads(threads)
    with ThreadPlan(reader=reader, adapt=False) as plan:
        return max(1, plan.count // max(1, workers))


class ThreadPlan:
    """One run's intra-op thread count: decided on entry, applied to torch, restored on exit.

    Args:
        threads: a pinned count (used as is), or ``None`` to choose from the free cores.
        rows: the job's size in rows, when known (a job of at most ``SMALL_JOB_ROWS`` keeps torch's count).
        adapt: re-decide when throughput drops (encodes); ``False`` keeps the count (training).
        on_rows: called with each increment of the row counter (a progress display).
        reader: ``(window, wait[, max_age]) -> LoadReading | None``; default :func:`measure_load`.
        clock: seconds, for the throughput readings; default ``time.monotonic``.

    Attributes:
        count: the thread count in use.
        reason: why: ``pinned``, ``environment``, ``outer plan``, ``small job``, ``load`` or ``no reading``.
        rows: rows counted so far (:meth:`advance`).
        available: the most threads this plan may use.
    """

    def __init__(self, threads: int | None = None, *, rows: int | None = None, adapt: bool = True,
                 on_rows: Callable[[int], object] | None = None,
                 reader: Callable[..., LoadReading | None] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.threads = check_threads(threads)
        self.job_rows = rows
        self.adapt = adapt
        self.on_rows = on_rows
        self.reader = reader or measure_load
        self.clock = clock or time.monotonic
        self.count = 0
        self.reason = ""
        self.rows = 0
        self.available = 1
        self.changes: list[tuple[int, int]] = []  # (rows done, new count) of every re-decision
        self._parent: ThreadPlan | None = None
        self._previous = 0
        self._token: contextvars.Token | None = None
        self._window = (0.0, 0)  # (clock, rows) at the start of the current throughput reading
        self._decided_at = 0.0
        self._best = 0.0  # best rows per second seen at the current count
        self._checked = False  # whether a throughput reading was taken yet

    # ------------------------------------------------------------------ decision
    def _decide(self) -> None:
        import torch

        self._parent = _ACTIVE.get()
        current = torch.get_num_threads()
        self.available = max(1, min(current, usable_cores()))
        if self.threads is not None:
            self.count, self.reason = self.threads, "pinned"
        elif self._parent is not None:
            self.count, self.reason = self._parent.count, "outer plan"
        elif env_pinned():
            self.count, self.reason = current, "environment"
        elif self.job_rows is not None and self.job_rows <= SMALL_JOB_ROWS:
            self.count, self.reason = current, "small job"  # no waiting, and repeated calls stay bit-identical
        else:
            reading = self.reader(WINDOW_S if self.adapt else FIXED_WINDOW_S, True)
            if reading is None:
                self.count, self.reason = self.available, "no reading"
            else:
                self.count, self.reason = choose_threads(reading.free_cores, self.available), "load"

    @property
    def _governs(self) -> bool:
        return self.adapt and self.reason in ("load", "no reading")

    def __enter__(self) -> ThreadPlan:  # noqa: PYI034 (Python 3.10 has no typing.Self)
        import torch

        self._decide()
        self._previous = torch.get_num_threads()
        if self.count != self._previous:
            torch.set_num_threads(self.count)
        self._token = _ACTIVE.set(self)
        now = self.clock()
        self._window = (now, 0)
        self._decided_at = now
        self._best = 0.0
        self._checked = False
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None
        # an inner plan that kept the outer count leaves it to the outer plan (which may have re-decided)
        if self.reason != "outer plan" and torch.get_num_threads() != self._previous:
            torch.set_num_threads(self._previous)

    # ------------------------------------------------------------------ progress
    def advance(self, rows: int, govern: bool = True) -> None:
        """Count ``rows`` more rows done (this plan's and every outer plan's counter); maybe re-decide.

        The plan that decided the count re-decides; an inner plan with a pinned count suspends that.
        """
        self.rows += rows
        if self.on_rows is not None:
            self.on_rows(rows)
        if self._parent is not None:
            self._parent.advance(rows, govern and self.reason == "outer plan")
        elif govern and self._governs:
            self._check_throughput()

    def _check_throughput(self) -> None:
        """Every ``CHECK_S`` seconds of rows: re-read the load at the first reading (over the job so far:
        a steadier measure than the short window the count was chosen on), when the rate fell below
        ``DROP`` x the best at this count, and every ``RECHECK_S`` seconds anyway (a load that ended,
        or one there from the start)."""
        now = self.clock()
        start, start_rows = self._window
        if now - start < CHECK_S:
            return
        rate = (self.rows - start_rows) / (now - start)
        self._window = (now, self.rows)
        self._best = max(self._best, rate)
        dropped = rate < DROP * self._best
        first, self._checked = not self._checked, True
        if not (first or dropped or now - self._decided_at >= RECHECK_S):
            return
        reading = self.reader(WINDOW_S, False, RUN_SAMPLE_AGE_S)  # since the previous re-reading: no waiting
        self._decided_at = now
        if reading is None:
            return
        count = choose_threads(reading.free_cores, self.available)
        if count != self.count:
            import torch

            torch.set_num_threads(count)
            self.count, self._best = count, 0.0
            self.changes.append((self.rows, count))
