"""Shared-memory batch buffers that a DataLoader worker reuses, instead of faulting in fresh pages per batch.

A batch leaving a worker must sit in shared memory. Fresh shared pages cost more than the read that fills
them (measured here: 221 ms of page faults for the 231 MB of a replay batch of 256 at 224 px, against 51 ms to
read it into reused memory). So each worker keeps a few buffers and reuses one once the main process has
dropped every tensor made of it: the main process learns a batch's storage when it unpickles the batch (a
`lease` rides along with one of its tensors) and, when the storage dies there, clears the buffer's flag in a
small shared array the worker reads. A batch the training loop still holds, in any view, is never reused;
when every buffer is held, a fresh one is made (and not kept).
"""

from __future__ import annotations

import math
import os
import weakref
from typing import Any

import numpy as np
import torch
from torch.utils.data import get_worker_info

KEEP = 4  # buffers per worker: prefetch_factor (2) in flight, one in use by the loop, one being filled


class SharedRing:
    """Per-process shared buffers; picklable (a copy in another process starts empty)."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._pid = os.getpid()
        self._buffers: list[torch.UntypedStorage] = []
        self._busy: torch.Tensor | None = None  # int32 (keep,), shared: 1 while the main process holds a buffer

    def take(self, nbytes: int, headroom: float = 0.0) -> tuple[torch.UntypedStorage, int | None]:
        """A shared storage of at least `nbytes` and its slot (None: a one-off buffer, not reused); a new
        buffer gets `headroom` more, for batches whose size varies."""
        if self._pid != os.getpid():
            self.__init__(self.keep)  # type: ignore[misc]
        if self._busy is None:
            self._busy = torch.zeros(self.keep, dtype=torch.int32).share_memory_()  # type: ignore[no-untyped-call]
        busy = self._busy.numpy()
        for slot, storage in enumerate(self._buffers):
            if not busy[slot] and storage.nbytes() >= nbytes:
                busy[slot] = 1
                return storage, slot
        storage = torch.UntypedStorage._new_shared(aligned(int(nbytes * (1 + headroom))))  # type: ignore[no-untyped-call]  # as default_collate does
        if len(self._buffers) < self.keep:
            self._buffers.append(storage)
            busy[len(self._buffers) - 1] = 1
            return storage, len(self._buffers) - 1
        return storage, None

    def lease(self, tensor: torch.Tensor, slot: int | None) -> Any:
        """`tensor` as it goes into the batch: unpickled in the main process, it frees `slot` when its storage
        dies there."""
        return tensor if slot is None or self._busy is None else _Lease(tensor, self._busy, slot)

    def __getstate__(self) -> dict[str, Any]:
        return {"keep": self.keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["keep"])  # type: ignore[misc]


class _Lease:
    """A tensor travelling with its buffer's flag; it unpickles to the plain tensor."""

    def __init__(self, tensor: torch.Tensor, busy: torch.Tensor, slot: int) -> None:
        self.tensor, self.busy, self.slot = tensor, busy, slot

    def __reduce__(self) -> tuple[Any, ...]:
        return _arrive, (self.tensor, self.busy, self.slot)


def _arrive(tensor: torch.Tensor, busy: torch.Tensor, slot: int) -> torch.Tensor:
    weakref.finalize(tensor.untyped_storage(), _release, busy, slot)  # a storage's Python object lives as
    return tensor  # long as the storage itself, whatever views of it are around


def _release(busy: torch.Tensor, slot: int) -> None:
    busy[slot] = 0


def view(storage: torch.UntypedStorage, byte_offset: int, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """A tensor of `shape` over `storage` from `byte_offset` (a multiple of the dtype's size)."""
    itemsize = torch.empty(0, dtype=dtype).element_size()
    assert byte_offset % itemsize == 0 and byte_offset + math.prod(shape) * itemsize <= storage.nbytes()
    return torch.empty(0, dtype=dtype).set_(storage, byte_offset // itemsize, shape)  # type: ignore[call-overload,no-any-return]


def in_worker() -> bool:
    return get_worker_info() is not None


RINGS: dict[str, SharedRing] = {}  # this process's rings, by what they hold (a forked copy resets itself)


def ring(name: str) -> SharedRing:
    return RINGS.setdefault(name, SharedRing())


def aligned(nbytes: int, to: int = 64) -> int:
    return int(np.ceil(nbytes / to) * to)
