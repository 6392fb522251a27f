"""A map-style dataset over a prepared tree: blur, sharp and spikes-or-voxels per frame, no torch needed.

`__len__`/`__getitem__` and plain picklable state make it work as a `torch.utils.data.Dataset` as is (torch's
DataLoader only needs those two and pickles the dataset to its workers). The index is flat numpy columns,
not a Python object per sample, so forked workers do not copy it page by page as they read it.

Modes: `realtime` sums voxels from the `.dat` link at load time; `precomputed` loads `spike_vox/<frame>.npy`;
both give the same array (same function, same dtype). `spikes` returns the decoded (T, H, W) frames.
The optional RAM cache keeps decoded samples up to a byte budget (least recently used out first); each
DataLoader worker has its own. Every array a sample holds is writable and its own (never a view of a mapped
file or of the cache): a cache hit is a copy (memcpy, ~1 ms for a 1280x720 sample with voxels, against 13 ms
to decode its PNGs), so changing a sample in place never changes what the next read returns.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal, NamedTuple

import cv2
import numpy as np

from dataprep.config.gopro import GoproPrepareConfig
from dataprep.gopro.errors import GoproError
from dataprep.gopro.plan import frame_order
from dataprep.gopro.spikes import SpikeGeometry, read_spikes, voxelize_file

Mode = Literal["realtime", "precomputed", "spikes"]
MODES = ("realtime", "precomputed", "spikes")


class GoproSample(NamedTuple):
    """One frame: RGB uint8 (H, W, 3) images, and (bins, H, W) voxels or (T, H, W) uint8 spikes."""

    blur: np.ndarray
    sharp: np.ndarray
    spike: np.ndarray
    sequence: str
    frame: str

    @property
    def nbytes(self) -> int:
        return self.blur.nbytes + self.sharp.nbytes + self.spike.nbytes

    def copy(self) -> GoproSample:
        """The same sample in arrays of its own (what a cache hands out, so callers never change the cache)."""
        return self._replace(blur=self.blur.copy(), sharp=self.sharp.copy(), spike=self.spike.copy())


class CacheStats(NamedTuple):
    hits: int
    misses: int
    evictions: int
    size: int
    nbytes: int


class SampleCache:
    """Decoded samples up to `budget` bytes, least recently used evicted first; a sample above the budget is
    not kept."""

    def __init__(self, budget: int) -> None:
        if budget < 0:
            raise GoproError(f"cache budget {budget} bytes is negative")
        self.budget = budget
        self._items: OrderedDict[int, GoproSample] = OrderedDict()
        self._bytes = self._hits = self._misses = self._evictions = 0

    def get(self, index: int) -> GoproSample | None:
        sample = self._items.get(index)
        if sample is None:
            self._misses += 1
            return None
        self._hits += 1
        self._items.move_to_end(index)
        return sample

    def put(self, index: int, sample: GoproSample) -> None:
        size = sample.nbytes
        if size > self.budget or index in self._items:
            return
        while self._bytes + size > self.budget:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes
            self._evictions += 1
        self._items[index] = sample
        self._bytes += size

    def __contains__(self, index: object) -> bool:
        return index in self._items

    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses, self._evictions, len(self._items), self._bytes)


class GoproSpikeDataset:
    """Frames of one split of a prepared tree that have a blur image, a sharp image and spikes (or voxels)."""

    def __init__(
        self,
        root: Path,
        split: str,
        geometry: SpikeGeometry,
        mode: Mode = "realtime",
        *,
        bins: int | None = None,
        voxel_dtype: str = "float32",
        blur: str = "blur",
        sharp: str = "sharp",
        spike_folder: str = "spike",
        voxel_folder: str = "spike_vox",
        cache_bytes: int = 0,
    ) -> None:
        if mode not in MODES:
            raise GoproError(f"dataset mode {mode!r} is not one of {MODES}")
        if mode != "spikes" and not bins:
            raise GoproError(f"dataset mode {mode!r} returns voxels: give bins (voxels.bins in the config)")
        self.root, self.split, self.geometry, self.mode = Path(root), split, geometry, mode
        self.bins, self.voxel_dtype = bins, voxel_dtype
        self.folders = {
            "blur": blur,
            "sharp": sharp,
            "spike": voxel_folder if mode == "precomputed" else spike_folder,
        }
        self._sequences, self._seq_ids, self._names = _index(self.root / split, self.folders)
        self.cache = SampleCache(cache_bytes)

    @classmethod
    def from_config(
        cls,
        config: GoproPrepareConfig,
        split: str,
        mode: Mode = "realtime",
        cache_bytes: int = 0,
        *,
        blur: str | None = None,
        sharp: str | None = None,
    ) -> GoproSpikeDataset:
        """The dataset over the tree `config` prepares, with its geometry, voxel settings and folder names.

        `blur` and `sharp` default to those folders when linked, else to the first and last of `sources`.
        """
        voxels, sources = config.voxels, config.sources
        blur = blur or ("blur" if "blur" in sources else sources[0])
        sharp = sharp or ("sharp" if "sharp" in sources else sources[-1])
        return cls(
            config.output_root,
            split,
            SpikeGeometry.from_spec(config.spike),
            mode,
            bins=voxels.bins if voxels else None,
            voxel_dtype=voxels.dtype if voxels else "float32",
            blur=blur,
            sharp=sharp,
            spike_folder=config.layout.spike_folder,
            voxel_folder=config.layout.voxel_folder,
            cache_bytes=cache_bytes,
        )

    def __len__(self) -> int:
        return len(self._seq_ids)

    def __getitem__(self, index: int) -> GoproSample:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        if (cached := self.cache.get(index)) is not None:
            return cached.copy()
        sequence = self._sequences[self._seq_ids[index]]
        folder = self.root / self.split / sequence
        names = {key: str(column[index]) for key, column in self._names.items()}
        spike_path = folder / self.folders["spike"] / names["spike"]
        sample = GoproSample(
            _read_rgb(folder / self.folders["blur"] / names["blur"]),
            _read_rgb(folder / self.folders["sharp"] / names["sharp"]),
            self._read_spike(spike_path),
            sequence,
            _stem(names["spike"]),
        )
        self.cache.put(index, sample)
        return sample.copy() if index in self.cache else sample

    def _read_spike(self, path: Path) -> np.ndarray:
        if self.mode == "precomputed":
            values: np.ndarray = np.load(path)
            return values
        if self.mode == "spikes":
            return read_spikes(path, self.geometry)
        return voxelize_file(path, self.geometry, self.bins, self.voxel_dtype)  # type: ignore[arg-type]

    def frames(self) -> list[tuple[str, str]]:
        """(sequence, frame) of every sample, in index order."""
        return [
            (self._sequences[s], _stem(str(n)))
            for s, n in zip(self._seq_ids, self._names["spike"], strict=True)
        ]

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. to DataLoader workers) with an empty cache of the same budget."""
        state = dict(self.__dict__)
        state["cache"] = SampleCache(self.cache.budget)
        return state


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _index(
    split_dir: Path, folders: dict[str, str]
) -> tuple[tuple[str, ...], np.ndarray, dict[str, np.ndarray]]:
    """Sequences, and per sample its sequence id and its file name in each folder (flat numpy columns)."""
    if not split_dir.is_dir():
        raise GoproError(f"{split_dir} is not a prepared split (run the gopro_prepare stage first)")
    sequences: list[str] = []
    seq_ids: list[int] = []
    columns: dict[str, list[str]] = {key: [] for key in folders}
    for sequence in sorted(
        (e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith(".")), key=frame_order
    ):
        by_folder = {key: _names_by_frame(split_dir / sequence / folder) for key, folder in folders.items()}
        common = set.intersection(*(set(names) for names in by_folder.values()))
        if not common:
            continue
        for frame in sorted(common, key=frame_order):
            seq_ids.append(len(sequences))
            for key in folders:
                columns[key].append(by_folder[key][frame])
        sequences.append(sequence)
    return (
        tuple(sequences),
        np.asarray(seq_ids, dtype=np.int32),
        {key: np.asarray(names, dtype=str) for key, names in columns.items()},
    )


def _names_by_frame(folder: Path) -> dict[str, str]:
    try:
        with os.scandir(folder) as entries:
            return {_stem(e.name): e.name for e in entries if not e.name.startswith(".")}
    except FileNotFoundError:
        return {}


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR_RGB)  # the codec's own RGB output: no second pass
    if image is None:
        raise GoproError(f"{path}: cannot read image")
    return image
