"""Backtests for the console, in a separate process.

A backtest in a thread would hold the GIL for seconds and stall the bus and
the UI, so a worker process (spawned, never forked: the parent has threads)
runs ``request.execute``. The parent reads the bars from the store -- one
process owns the LMDB store -- sends them with the request, and relays
progress and the result to the bus as ``BacktestUpdate`` events. Cancel
terminates the worker at once, even inside the numba kernel; the next run
starts a fresh one. The worker is started on first use and kept warm, so
only the first run pays for importing vectorbt.

Numba compiles the engine's kernels on their first call, for a minute or more on a
busy machine, and caches them in ``<data dir>/cache/numba``. With a cold cache (a new
install, an upgrade) the worker compiles them first (services/backtest/cache.py
``warm``) and the run's status says so; the console asks for that at start
(:meth:`BacktestRunner.prewarm`), so usually nobody waits. The worker runs at a lower
CPU priority than trading.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing as mp
import os
import queue
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from services.accounting.costs import CostConfig
from services.backtest.rules import BacktestConfig
from services.backtest.runs import RunStore, provenance, stamp
from services.backtest.spec import Request, RunDoc
from services.bus import Bus
from services.events import EVENT_BACKTEST, BacktestUpdate
from services.store import Store, StoreError

log = logging.getLogger("quantdesk.backtest")
WARM = "warm"  # the worker's inbox: compile the engine now (a cold cache)
WORKER_NICENESS = 10


class BacktestRunner:
    """Starts, relays and cancels backtests; one at a time."""

    def __init__(
        self,
        bus: Bus,
        store: Store,
        config: BacktestConfig,
        costs: CostConfig,
        data_dir: Path,
    ) -> None:
        self.bus = bus
        self.store = store
        self.config = config
        self.costs = costs
        self.data_dir = data_dir
        self._runs: RunStore | None = None
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None
        self._inbox: Any = None
        self._outbox: Any = None
        self._ids = itertools.count(1)
        self._job: int | None = None
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()

    @property
    def runs(self) -> RunStore:
        """The saved runs, opened at first use: a damaged file (RunsError, a ValueError
        naming it) costs the backtests screen, never the console's start."""
        if self._runs is None:
            self._runs = RunStore(self.data_dir / "backtests.db")
        return self._runs

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, request: Request) -> int:
        """Check ``request`` (ValueError says what is wrong) and run it in the background."""
        request.check()
        with self._lock:
            if self._job is not None:
                raise ValueError("a backtest is already running: cancel it first")
            job = self._job = next(self._ids)
        threading.Thread(
            target=self._run, args=(job, request), name=f"backtest-{job}", daemon=True
        ).start()
        return job

    def prewarm(self) -> bool:
        """Compile the engine in the worker now, in the background, if its cache is cold;
        True when a warm-up was started."""
        from services.backtest.cache import cache_dir_for, is_warm

        if is_warm(cache_dir_for(self.data_dir)):
            return False
        self._ensure_worker()
        self._inbox.put(WARM)
        log.info("backtest engine: compiling in the background (cold cache)")
        return True

    def cancel(self) -> bool:
        """Stop the running backtest now; False when none is running."""
        with self._lock:
            job = self._job
            if job is None:
                return False
            self._cancelled.add(job)
            self._kill()
        return True

    def stop(self) -> None:
        with self._lock:
            if self._job is not None:
                self._cancelled.add(self._job)
            self._kill()

    # -- the job thread -----------------------------------------------------------------------
    def _publish(self, update: BacktestUpdate) -> None:
        self.bus.publish(EVENT_BACKTEST, update)

    def _run(self, job: int, request: Request) -> None:
        try:
            self._publish(BacktestUpdate(job, "starting", "reading bars from the store"))
            frames = {}
            for i, symbol in enumerate(request.symbols):
                frames[symbol] = request.read_bars(self.store, symbol)
                self._publish(
                    BacktestUpdate(job, "starting", f"read {symbol}", i + 1, len(request.symbols))
                )
            inputs = provenance(self.store, request.freq, request.strategy, request.as_of)
            if job in self._cancelled:
                raise _Cancelled
            self._ensure_worker()
            self._inbox.put((job, request, frames, self.config, self.costs))
            doc = self._relay(job)
            stamp(doc, inputs)
            doc["run_id"] = self.runs.save(doc)
            log.info(
                "backtest %d done: %s %s saved as run %d",
                job,
                request.strategy,
                doc["symbol"],
                doc["run_id"],
            )
            self._publish(
                BacktestUpdate(job, "done", f"saved as run {doc['run_id']}", 1, 1, doc=doc)
            )
        except _Cancelled:
            log.info("backtest %d cancelled", job)
            self._publish(BacktestUpdate(job, "cancelled", "cancelled"))
        except (ValueError, StoreError) as exc:
            log.warning("backtest %d failed: %s", job, exc)
            self._publish(BacktestUpdate(job, "failed", error=str(exc)))
        except Exception as exc:  # a bug: report it, keep the console alive
            log.exception("backtest %d crashed", job)
            self._publish(BacktestUpdate(job, "failed", error=f"{type(exc).__name__}: {exc}"))
        finally:
            with self._lock:
                self._job = None
                self._cancelled.discard(job)

    def _relay(self, job: int) -> RunDoc:
        while True:
            if job in self._cancelled:
                raise _Cancelled
            try:
                kind, got_job, *rest = self._outbox.get(timeout=0.1)
            except queue.Empty:
                proc = self._proc
                if proc is None or not proc.is_alive():
                    if job in self._cancelled:
                        raise _Cancelled from None
                    code = None if proc is None else proc.exitcode
                    self._proc = None
                    raise RuntimeError(f"the backtest process died (exit code {code})") from None
                continue
            except (EOFError, OSError):  # the queue's pipe closed under a cancel
                raise _Cancelled from None
            if got_job != job:
                continue  # a late message of a cancelled job
            if kind == "progress":
                done, total, what = rest
                self._publish(BacktestUpdate(job, "running", what, done, total))
            elif kind == "done":
                result: RunDoc = rest[0]
                return result
            elif kind == "failed":
                raise ValueError(rest[0])

    def _ensure_worker(self) -> None:
        from services.backtest.cache import cache_dir_for

        with self._lock:
            if self._proc is not None and self._proc.is_alive():
                return
            cache = cache_dir_for(self.data_dir)
            logs = self.data_dir / "logs" / "backtest-worker.log"
            logs.parent.mkdir(parents=True, exist_ok=True)
            # Queues start multiprocessing's resource tracker, and both it and spawn pass
            # sys.stderr's descriptor to the child. Inside the TUI sys.stderr is Textual's
            # capture object with no valid descriptor: lend them the real one meanwhile.
            saved = sys.stderr
            try:
                if not _has_fd(sys.stderr):
                    sys.stderr = sys.__stderr__
                self._inbox, self._outbox = self._ctx.Queue(), self._ctx.Queue()
                self._proc = self._ctx.Process(
                    target=worker_main,
                    args=(self._inbox, self._outbox, str(cache), str(logs)),
                    name="quantdesk-backtest",
                    daemon=True,
                )
                self._proc.start()
            finally:
                sys.stderr = saved
            log.info("backtest worker started (pid %s)", self._proc.pid)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(timeout=2)
            log.info("backtest worker stopped")


class _Cancelled(Exception):
    pass


def _has_fd(stream: Any) -> bool:
    try:
        return bool(stream.fileno() >= 0)
    except (AttributeError, OSError, ValueError):
        return False


def worker_main(inbox: Any, outbox: Any, cache_dir: str, log_path: str) -> None:
    """The worker process: run requests from ``inbox``, report to ``outbox``.

    Its stdout and stderr go to ``log_path``: they are the console's terminal otherwise,
    and a stray warning would scribble over the TUI.
    """
    with open(log_path, "a", encoding="utf-8") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
    os.environ.setdefault("NUMBA_CACHE_DIR", cache_dir)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)  # trading comes first on a busy machine
    from services.backtest.cache import ensure_warm
    from services.backtest.request import execute

    cache = Path(os.environ["NUMBA_CACHE_DIR"])
    while True:
        item = inbox.get()
        if item == WARM:
            try:
                ensure_warm(cache, lambda _what: None)
            except Exception:  # the first run compiles instead (and reports what fails)
                traceback.print_exc()
            continue
        job, request, frames, config, costs = item

        def progress(done: int, total: int, what: str, job: int = job) -> None:
            outbox.put(("progress", job, done, total, what))

        try:
            ensure_warm(cache, lambda what: progress(0, 0, what))
            doc = execute(request, frames.__getitem__, config, costs, progress)
            outbox.put(("done", job, doc))
        except ValueError as exc:
            outbox.put(("failed", job, str(exc)))
        except Exception as exc:  # the parent logs it; the worker stays up
            outbox.put(("failed", job, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
