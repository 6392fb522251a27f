"""`ReplaySampler`: random transitions of indexed replay files, read lazily through the index.

The index (flat numpy columns) is loaded once; joint, action, reward and not_done come from it, and only
images are read from disk: per file, per camera, one `pread` per row (from the image cache when it has the
requested size, else from the source, resized). Transitions are the index's pairs (row i, row i + 1 in one
episode) plus terminal rows, whose next observation is their own (not_done = 0 masks it out); timeout rows
and a file's cut-off last row have no valid next and are never drawn.

Randomness in DataLoader workers: a worker gets a copy of the sampler, generator included, so every worker
would draw the same batches. The first draw in a torch worker therefore replaces the generator with one seeded
from torch's per-worker seed (`get_worker_info().seed`, which differs per worker and per epoch and follows
`torch.manual_seed` or the DataLoader's `generator`) and the sampler's own `seed`: workers never repeat each
other, and the same two seeds reproduce a run. No `worker_init_fn` is needed; torch is never imported here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import h5py
import numpy as np

from dataprep.hdf5.errors import IndexFolderError
from dataprep.hdf5.image_cache import OFFSETS, resize, to_hwc
from dataprep.hdf5.index_file import FileEntry, IndexTables
from dataprep.hdf5.layout import REPLAY_IMAGES, TERMINAL, image_path
from dataprep.hdf5.rowread import FileHandles, RowSource, read_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ReplayBatch:
    """B transitions; images (B, S, S, 3) uint8 HWC, vectors float32, `file`/`row` name each sample's source."""

    left_image: np.ndarray
    right_image: np.ndarray
    global_image: np.ndarray
    joint: np.ndarray
    action: np.ndarray
    next_left_image: np.ndarray
    next_right_image: np.ndarray
    next_global_image: np.ndarray
    next_joint: np.ndarray
    reward: np.ndarray
    not_done: np.ndarray
    file: tuple[str, ...]
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


@dataclass(frozen=True, eq=False)
class _Camera:
    """How to fetch one camera of one file at the requested size."""

    source: RowSource
    layout: str  # "HWC" or "CHW"
    direct: bool  # stored HWC at (S, S, 3): read straight into the batch


class _BufferPool:
    """Image memory of batches nobody references any more, reused for the next batch.

    A fresh (6, 256, 224, 224, 3) array costs ~12 ms of page faults and kernel zeroing, a third of a cached
    batch. A batch's images are views of one pooled buffer, and views hold their base, so a buffer whose only
    references are the pool's own is provably unused (the caller dropped every batch and view made of it).
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._buffers: list[np.ndarray] = []
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        with self._lock:
            for k in range(len(self._buffers)):  # by position: a loop variable would be one more reference
                if self._buffers[k].shape == shape and sys.getrefcount(self._buffers[k]) == _FREE_REFS:
                    return self._buffers[k]
            fresh = np.empty(shape, dtype=np.uint8)
            self._buffers.append(fresh)
            if len(self._buffers) > self.keep:  # forget the oldest buffers; batches using them keep them alive
                del self._buffers[: len(self._buffers) - self.keep]
            return fresh

    def __getstate__(self) -> dict[str, Any]:
        return {"keep": self.keep}  # buffers and lock stay with this process

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["keep"])  # type: ignore[misc]


_FREE_REFS = 2  # the pool's list and getrefcount's own argument


def _torch_worker() -> tuple[int, int, int] | None:
    """(pid, worker id, worker seed) inside a torch DataLoader worker, else None; never imports torch (a worker
    has imported it already, so a process without it loaded is no worker)."""
    data = sys.modules.get("torch.utils.data")
    info = data.get_worker_info() if data is not None else None
    return None if info is None else (os.getpid(), int(info.id), int(info.seed))


class ReplaySampler:
    """Map-style too: `len()` transitions, `sampler[i]` or `sampler[array]` gives a batch of those."""

    def __init__(self, index_dir: Path | str, num_traj: int | None = None, prefetch: int = 0,
                 image_size: int = 224, seed: int | None = None, use_cache: bool = True, read_threads: int = 2) -> None:
        """`read_threads` read a batch's cameras in parallel (pread and resize release the GIL)."""
        tables = IndexTables.load(index_dir)
        self.index_dir, self.image_size, self.prefetch = Path(index_dir), image_size, prefetch
        self.read_threads = read_threads
        self._samples = tables.samples
        self._paths = tuple(f.path for f in tables.files)
        transition = (tables.samples["next_row"] >= 0) | ((tables.samples["flags"] & TERMINAL) > 0)
        if num_traj is not None:
            transition &= tables.samples["episode"] < num_traj
        self.transitions = np.flatnonzero(transition)
        if not len(self.transitions):
            raise IndexFolderError(f"{self.index_dir}: the index holds no replay transitions")
        self._cameras = {
            file_id: {cam: self._camera(entry, cam, use_cache, tables.offsets.get(file_id, {}))
                      for cam in REPLAY_IMAGES}
            for file_id, entry in enumerate(tables.files) if entry.kind == "replay"
        }  # fmt: skip
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._rng_worker: tuple[int, int, int] | None = None  # (pid, worker id, worker seed) it was seeded for
        self._handles = FileHandles()
        self._queue: queue.Queue[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._prefetch_size = 0
        self._owner = os.getpid()  # the process whose prefetch thread this is
        self._buffers = _BufferPool(keep=prefetch + 3)
        self._readers: ThreadPoolExecutor | None = None
        self._readers_pid = 0

    def _camera(self, entry: FileEntry, camera: str, use_cache: bool, offsets: dict[str, np.ndarray]) -> _Camera:
        size = self.image_size
        if use_cache and entry.cache:
            with h5py.File(entry.cache, "r") as f:  # closed at once: no handle survives into workers
                if f.attrs["size"] == size:
                    source = RowSource(entry.cache, camera, (size, size, 3), np.dtype(np.uint8),
                                       chunk_offsets=f[f"{OFFSETS}/{camera}"][()])
                    return _Camera(source, "HWC", direct=True)
            logger.info("%s: image cache is not %dx%d; resizing source images", entry.path, size, size)
        info = entry.datasets[image_path(camera)]
        direct = info.layout == "HWC" and info.row_shape == (size, size, 3)
        source = dataclasses.replace(RowSource.of(entry.path, info), chunk_offsets=offsets.get(info.name))
        return _Camera(source, info.layout, direct=direct)

    def __len__(self) -> int:
        return len(self.transitions)

    def __getitem__(self, key: int | np.ndarray) -> ReplayBatch:
        return self.batch_at(self.transitions[np.atleast_1d(key)])

    def draw(self, batch_size: int) -> np.ndarray:
        """Index samples of `batch_size` transitions, uniformly with replacement, from this process's generator."""
        return self._generator().choice(self.transitions, batch_size)

    def _generator(self) -> np.random.Generator:
        """The generator, reseeded once per torch worker (see the module docstring)."""
        worker = _torch_worker()
        if worker is not None and worker != self._rng_worker:
            entropy = [worker[2]] if self.seed is None else [worker[2], self.seed]
            self._rng, self._rng_worker = np.random.default_rng(entropy), worker
        return self._rng

    def sample(self, batch_size: int) -> ReplayBatch:
        """A batch of transitions drawn uniformly with replacement (from the prefetch queue when enabled)."""
        if self.prefetch <= 0:
            return self.batch_at(self.draw(batch_size))
        self._generator()  # a worker reseeds before its prefetch thread starts drawing
        if self._thread is not None and self._owner != os.getpid():  # forked: the thread stayed behind
            self._thread = self._queue = None
        if self._thread is None or self._prefetch_size != batch_size:
            self._stop_prefetch()
            self._start_prefetch(batch_size)
        assert self._queue is not None
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        batch: ReplayBatch = item
        return batch

    def batch_at(self, index: np.ndarray, images: np.ndarray | None = None) -> ReplayBatch:
        """The transitions starting at these index samples (global sample numbers).

        `images`, if given, is the (6, B, S, S, 3) uint8 array the images are read into (the torch view passes
        shared memory, so a batch crosses to the main process without a copy); else a pooled buffer is used.
        """
        s = self._samples
        index = np.asarray(index, dtype=np.int64)
        has_next = s["next_row"][index] >= 0
        nxt = np.where(has_next, index + 1, index)  # a file's rows are consecutive samples of the index
        file_id, row, next_row = s["file_id"][index], s["row"][index], s["row"][nxt]
        names = [name for cam in REPLAY_IMAGES for name in (cam, f"next_{cam}")]
        shape = (len(names), len(index), self.image_size, self.image_size, 3)
        if images is not None and (images.shape != shape or images.dtype != np.uint8):
            raise ValueError(f"image buffer is {images.dtype} {images.shape}, expected uint8 {shape}")
        buffer = self._buffers.take(shape) if images is None else images
        cameras = dict(zip(names, buffer))
        jobs = []
        for fid in np.unique(file_id):
            at = np.flatnonzero(file_id == fid)
            for cam, camera in self._cameras[int(fid)].items():
                jobs += [(camera, row[at], cameras[cam], at), (camera, next_row[at], cameras[f"next_{cam}"], at)]
        readers = self._reader_pool()
        if readers is None:
            for job in jobs:
                self._read(*job)
        else:
            for future in [readers.submit(self._read, *job) for job in jobs]:
                future.result()  # raises the job's error, if any
        return ReplayBatch(
            **cameras, joint=s["joint"][index], action=s["action"][index], next_joint=s["joint"][nxt],
            reward=s["reward"][index], not_done=s["not_done"][index].astype(np.float32),
            file=tuple(self._paths[i] for i in file_id), row=row,
        )  # fmt: skip

    def _reader_pool(self) -> ThreadPoolExecutor | None:
        """This process's reader threads (a forked child makes its own: threads do not survive a fork)."""
        if self.read_threads <= 1:
            return None
        if self._readers is None or self._readers_pid != os.getpid():
            self._readers = ThreadPoolExecutor(self.read_threads, thread_name_prefix="replay-read")
            self._readers_pid = os.getpid()
        return self._readers

    def _read(self, camera: _Camera, rows: np.ndarray, out: np.ndarray, at: np.ndarray) -> None:
        if camera.direct:
            read_rows(self._handles, camera.source, rows, out, at)
            return
        raw = np.empty((len(rows), *camera.source.row_shape), dtype=np.uint8)
        read_rows(self._handles, camera.source, rows, raw)
        for k, image in enumerate(to_hwc(raw, camera.layout)):
            out[at[k]] = resize(np.ascontiguousarray(image), self.image_size)

    def _start_prefetch(self, batch_size: int) -> None:
        self._queue, self._prefetch_size, self._owner = queue.Queue(maxsize=self.prefetch), batch_size, os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(batch_size, self._queue, self._stop),
                                        name="replay-prefetch", daemon=True)
        self._thread.start()

    def _produce(self, batch_size: int, out: queue.Queue[Any], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                item: Any = self.batch_at(self._rng.choice(self.transitions, batch_size))  # reseeded by sample()
            except Exception as err:  # noqa: BLE001 - handed to the consumer, which raises it
                item = err
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def _stop_prefetch(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = self._queue = None

    def close(self) -> None:
        self._stop_prefetch()
        if self._readers is not None and self._readers_pid == os.getpid():
            self._readers.shutdown()
        self._readers = None
        self._handles.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (DataLoader workers, spawn) without handles, thread or queue; each process opens its own."""
        state = dict(self.__dict__)
        state.update(_thread=None, _queue=None, _stop=None, _readers=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._stop = threading.Event()
