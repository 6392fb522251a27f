"""Converting a run's bags without Prefect: one after another in this process, or several at once in a pool.

The pool's processes start with `forkserver` (a clean, single-threaded parent to fork from), never with a plain
`fork` of this process, whose encoder and monitor threads a forked child would inherit mid-lock; the server
imports the converter once, so each worker starts without importing it again. A worker gets
the configuration and a bag path and sends back the small `BagConversion` record; frames and arrays stay in the
worker. Chunk reports cross back through a queue, so `on_chunk` sees every bag's progress in this process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dataprep.config import ConvertConfig
from dataprep.conversion.bag_to_episodes import ChunkCallback, ChunkReport, convert_bag
from dataprep.conversion.containment import contained_failure
from dataprep.conversion.staging import BagConversion
from dataprep.conversion.workers import BagWorkers, largest_first
from dataprep.errors import DataprepError, RunError
from dataprep.lerobot import set_encoder_threads

logger = logging.getLogger(__name__)

BagOutcome = BagConversion | DataprepError  # per bag, in plan order: its conversion, or why it failed


def convert_in_worker(config: ConvertConfig, bag: Path, encoder_threads: int,
                      chunks: Any = None) -> BagConversion:
    """One bag in a worker process: its share of the cores for the encoders, its chunk reports to `chunks`."""
    set_encoder_threads(encoder_threads)
    return convert_bag(config, bag, chunks.put if chunks is not None else None)


def convert_bags(config: ConvertConfig, bags: Sequence[Path], workers: BagWorkers,
                 on_chunk: ChunkCallback | None = None) -> list[BagOutcome]:
    """Every bag attempted; a `RunError` (nothing more can be written) stops the run at once."""
    if workers.workers <= 1:
        return [_outcome(lambda bag=bag: convert_bag(config, bag, on_chunk), bag, config) for bag in bags]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["dataprep.conversion"])  # imported once in the server, not in every worker
    with contextlib.ExitStack() as stack:  # unwinds: relay drained, pool joined, then the manager
        chunks = stack.enter_context(context.Manager()).Queue() if on_chunk is not None else None
        pool = stack.enter_context(ProcessPoolExecutor(workers.workers, mp_context=context))
        if chunks is not None and on_chunk is not None:
            stack.callback(_Relay(chunks, on_chunk).stop)
        futures = {bag: pool.submit(convert_in_worker, config, bag, workers.encoder_threads, chunks)
                   for bag in largest_first(bags)}
        try:
            return [_outcome(futures[bag].result, bag, config) for bag in bags]
        except RunError:
            for future in futures.values():
                future.cancel()
            raise


def _outcome(result: Any, bag: Path, config: ConvertConfig) -> BagOutcome:
    try:
        conversion: BagConversion = result()
    except RunError:
        raise
    except DataprepError as err:
        return err
    except Exception as err:  # a worker that died (BrokenProcessPool) fails its bag, named
        logger.error("%s: the worker converting it failed", bag, exc_info=err)
        return contained_failure(err, bag, config.output_root)
    return conversion


class _Relay:
    """Calls `on_chunk` in this process for every report the workers put on `chunks`."""

    def __init__(self, chunks: Any, on_chunk: ChunkCallback) -> None:
        self._chunks, self._on_chunk = chunks, on_chunk
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chunk-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set() or not self._chunks.empty():
            try:
                report: ChunkReport = self._chunks.get(timeout=0.2)
            except queue.Empty:
                continue
            self._on_chunk(report)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


__all__ = ["BagOutcome", "convert_bags", "convert_in_worker"]
