"""The torch views under real DataLoaders, through the documented recipes: two workers (fork and spawn), tensors
out, no duplicate batches, every item once per epoch for map-style readers, a fixed seed reproduces a run, and
in-place ops on whatever a reader returns never change the reader or crash."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
import pytest
from gopro_mini import MiniTree, build

from dataprep.gopro import GoproSpikeDataset, prepare_tree
from dataprep.hdf5 import ReplaySampler, SegmentDataset, build_index
from tests.hdf5_sources import index_config, read_image, write_sources

torch = pytest.importorskip("torch", reason="the torch views need the torch extra: pip install 'dataprep[torch]'")
from dataprep.torchdata import EpochOrderSampler, ReplayTransitions, keep_batch  # noqa: E402

RECIPES = Path(__file__).resolve().parents[1] / "docs/recipes"
CONTEXTS = ["fork"]  # spawn: test_recipes_run_as_written (a process per worker importing torch takes seconds)
# pin_memory=True is accepted on a machine without a GPU, with this warning
pytestmark = pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true:UserWarning")
IMAGE = 24  # the index's image cache size


def recipe(name: str) -> Callable[..., Any]:
    """The recipe's own `make_loader`, as the docs show it."""
    return runpy.run_path(str(RECIPES / f"{name}.py"))["make_loader"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    write_sources(root)
    build_index(index_config(root, root / "index", cache=IMAGE))
    return root / "index"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> MiniTree:
    mini = build(tmp_path_factory.mktemp("gopro"), "bitpacked")
    prepare_tree(mini.config)
    return mini


def batch_key(batch: dict[str, Any]) -> bytes:
    return batch["row"].numpy().tobytes() + "|".join(batch["file"]).encode()


@pytest.mark.parametrize("context", CONTEXTS)
def test_replay_recipe_workers_draw_distinct_batches_of_tensors(index: Path, context: str) -> None:
    loader = recipe("replay_loader")(index, batch_size=16, batches_per_epoch=6, image_size=IMAGE, num_workers=2,
                                     context=context, seed=3, pin_memory=True)
    epochs = [list(loader) for _ in range(2)]  # persistent workers: the second epoch goes on drawing
    batches = [b for epoch in epochs for b in epoch]
    assert len(batches) == 12 and len({batch_key(b) for b in batches}) == 12  # no worker repeats another
    first = batches[0]
    assert first["left_image"].dtype == torch.uint8 and first["left_image"].shape == (16, IMAGE, IMAGE, 3)
    assert all(isinstance(first[k], torch.Tensor) for k in ("joint", "action", "reward", "not_done", "row"))
    for k in range(3):  # the images are the rows the batch names
        path, row = first["file"][k], int(first["row"][k])
        np.testing.assert_array_equal(first["left_image"][k].numpy(), expected_left(path, row))


def expected_left(path: str, row: int) -> np.ndarray:
    stored = np.ascontiguousarray(read_image(path, "left_image", row))
    return cv2.resize(stored, (IMAGE, IMAGE), interpolation=cv2.INTER_LINEAR)  # as the image cache did


def test_worker_buffers_are_reused_only_once_the_loop_drops_every_view(index: Path) -> None:
    loader = recipe("replay_loader")(index, batch_size=8, batches_per_epoch=12, image_size=IMAGE, num_workers=2,
                                     seed=2)
    for batch in loader:  # dropped batch by batch: the workers refill their buffers
        for k in range(0, 8, 3):
            np.testing.assert_array_equal(batch["left_image"][k].numpy(), expected_left(batch["file"][k],
                                                                                       int(batch["row"][k])))
    held = [(b["next_global_image"][2:5], b["file"][2:5], b["row"][2:5].clone()) for b in loader]  # views only
    for images, files, rows in held:  # none was overwritten by a later batch
        for image, path, row in zip(images, files, rows, strict=True):
            with h5py.File(path, "r") as f:
                nxt = int(row) if f["terminal"][int(row)] else int(row) + 1
            stored = np.ascontiguousarray(read_image(path, "global_image", nxt))
            expected = cv2.resize(stored, (IMAGE, IMAGE), interpolation=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(image.numpy(), expected)


def test_replay_recipe_with_a_fixed_seed_reproduces_the_batches(index: Path) -> None:
    make = recipe("replay_loader")
    runs = [[batch_key(b) for b in make(index, batch_size=16, batches_per_epoch=4, image_size=IMAGE, seed=seed)]
            for seed in (5, 5, 6)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_replay_transitions_visit_every_transition_once_per_epoch(index: Path) -> None:
    sampler = ReplaySampler(index, image_size=IMAGE)
    loader = torch.utils.data.DataLoader(ReplayTransitions(sampler), batch_size=64, shuffle=True, num_workers=2,
                                         collate_fn=keep_batch, multiprocessing_context="fork")
    seen = [(f, int(r)) for b in loader for f, r in zip(b["file"], b["row"], strict=True)]
    assert len(seen) == len(sampler) == len(set(seen))
    one = ReplayTransitions(sampler)[0]  # a single transition collates with default_collate
    assert keep_batch([one, one])["joint"].shape == (2, *one["joint"].shape)


@pytest.mark.parametrize("context", CONTEXTS)
def test_segment_recipe_gives_every_segment_once_per_epoch_as_tensors(index: Path, context: str) -> None:
    make = recipe("segment_loader")
    loader = make(index, mode="lru", cache_files=2, batch_size=4, num_workers=2, context=context, seed=1,
                  pin_memory=True)
    direct = SegmentDataset(index, mode="on_demand")
    names = [(direct[i].file, direct[i].start) for i in range(len(direct))]
    expected = set(names)
    orders = []
    for _ in range(2):
        seen = []
        for batch in loader:
            assert isinstance(batch["x"], torch.Tensor) and batch["offsets"][-1] == len(batch["x"])
            seen += list(zip(batch["file"], batch["start"].tolist(), strict=True))
        assert len(seen) == len(expected) and set(seen) == expected
        orders.append(seen)
    assert orders[0] != orders[1]  # a new shuffle each epoch
    if context == "fork":  # the same seed, the same epochs
        again = make(index, mode="lru", cache_files=2, batch_size=4, num_workers=2, seed=1)
        assert [(f, s) for b in again for f, s in zip(b["file"], b["start"].tolist(), strict=True)] == orders[0]
    batch = next(iter(loader))
    for k in range(len(batch["start"])):  # the points are the segment's, at its offsets
        at = names.index((batch["file"][k], int(batch["start"][k])))
        np.testing.assert_array_equal(batch["x"][batch["offsets"][k]:batch["offsets"][k + 1]].numpy(), direct[at].x)


@pytest.mark.parametrize("context", CONTEXTS)
def test_gopro_recipe_gives_every_frame_once_per_epoch_as_tensors(tree: MiniTree, context: str) -> None:
    make = recipe("gopro_loader")
    loader = make(tree.config, "test", batch_size=2, num_workers=2, context=context, seed=4, pin_memory=True)
    frames = GoproSpikeDataset.from_config(tree.config, "test")
    for _ in range(2):
        seen, batches = [], list(loader)
        for batch in batches:
            assert batch["spike"].dtype == torch.float32 and batch["blur"].dtype == torch.uint8
            seen += list(zip(batch["sequence"], batch["frame"], strict=True))
        assert sorted(seen) == sorted(frames.frames())
    first = batches[0]
    k = frames.frames().index((first["sequence"][0], first["frame"][0]))
    np.testing.assert_array_equal(first["spike"][0].numpy(), frames[k].spike)
    if context == "fork":
        orders = [[f for b in make(tree.config, "test", batch_size=2, seed=4) for f in b["frame"]] for _ in range(2)]
        assert orders[0] == orders[1]


@pytest.mark.parametrize(("name", "args"), [
    ("replay_loader", ["--batch-size", "16", "--image-size", str(IMAGE), "--batches", "4"]),
    ("segment_loader", ["--batch-size", "8", "--cache-files", "2"]),
    ("gopro_loader", ["--split", "test", "--batch-size", "2"]),
])  # fmt: skip
def test_recipes_run_as_written_with_spawned_workers(index: Path, tree: MiniTree, tmp_path: Path, name: str, args: list[str]) -> None:
    target = str(index)
    if name == "gopro_loader":
        target = str(tmp_path / "gopro.yaml")
        Path(target).write_text(json.dumps(tree.config.model_dump(mode="json")))  # JSON is YAML
    env = {**os.environ, "PYTHONPATH": str(RECIPES.parents[1])}
    command = [sys.executable, str(RECIPES / f"{name}.py"), target, "--workers", "2", "--context", "spawn",
               "--epochs", "2", *args]
    done = subprocess.run(command,
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    epochs = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [e["epoch"] for e in epochs] == [0, 1]
    for summary in epochs:
        if name == "replay_loader":
            assert summary["distinct_batches"] == summary["batches"] == 4
        else:
            counted = "segments" if name == "segment_loader" else "frames"
            assert summary[counted] == summary[f"distinct_{counted}"] == summary["dataset"]


def scribble(array: np.ndarray) -> None:
    """An in-place op through torch, as training code does; torch warns (and used to crash) on a read-only
    or file-mapped array, so warnings are errors here."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensor = torch.from_numpy(array)
        tensor.add_(1) if tensor.dtype != torch.bool else tensor.logical_not_()


def own_memory(array: np.ndarray) -> bool:
    """Writable, and no view of a mapped file anywhere down its chain of bases."""
    base: object = array
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return False
        base = base.base
    return bool(array.flags.writeable) and base is None


def arrays(item: object) -> list[np.ndarray]:
    values = item._asdict().values() if hasattr(item, "_asdict") else vars(item).values()
    return [v for v in values if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("mode", ["realtime", "precomputed", "spikes"])
def test_in_place_ops_on_gopro_samples_never_change_the_reader(tree: MiniTree, mode: str) -> None:
    frames = GoproSpikeDataset.from_config(tree.config, "test", mode=mode, cache_bytes=10**7)  # type: ignore[arg-type]
    clean = GoproSpikeDataset.from_config(tree.config, "test", mode=mode)  # type: ignore[arg-type]
    for _ in range(2):  # a read from disk, then one from the cache
        got = arrays(frames[0])
        assert len(got) == 3 and all(own_memory(a) for a in got)
        for a in got:
            scribble(a)
        for a, b in zip(arrays(frames[0]), arrays(clean[0]), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["preload_all", "lru", "on_demand"])
def test_in_place_ops_on_segments_never_change_the_reader(index: Path, mode: str) -> None:
    segments = SegmentDataset(index, mode=mode)  # type: ignore[arg-type]
    expected = arrays(SegmentDataset(index, mode="on_demand")[3])
    for a in arrays(segments[3]):
        scribble(a)
    for a, b in zip(arrays(segments[3]), expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_in_place_ops_on_replay_batches_change_only_that_batch(index: Path) -> None:
    sampler = ReplaySampler(index, image_size=IMAGE)
    picks = np.arange(8)
    expected = [a.copy() for a in arrays(sampler[picks])]
    batch = sampler[picks]
    for a in arrays(batch):
        scribble(a)
    for a, b in zip(arrays(sampler[picks]), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    for value in ReplayTransitions(sampler).__getitems__([0, 1]).values():  # the tensors of the torch view
        if isinstance(value, torch.Tensor):
            value.add_(1)


def test_epoch_order_sampler_gives_each_worker_batches_of_its_own_files(index: Path) -> None:
    segments = SegmentDataset(index, mode="lru", cache_files=1)
    sampler = EpochOrderSampler(segments, seed=7, batch_size=4, num_workers=2)
    order = np.array(list(sampler))
    assert sorted(order.tolist()) == list(range(len(segments)))  # every segment once
    batches = segments.file_ids[order][: len(order) // 4 * 4].reshape(-1, 4)
    # DataLoader: batch i -> worker i % 2. While both workers have batches of their own files left, each
    # batch is of that worker's files only (files are split, so one runs out first when they differ in size)
    owner: dict[int, int] = {}
    interleaved = 0
    for i, batch in enumerate(batches):
        if any(owner.setdefault(int(f), i % 2) != i % 2 for f in batch):
            break
        interleaved += 1
    assert interleaved >= 2 and set(owner.values()) == {0, 1}
    assert sum(len(b) for b in batches[interleaved:]) <= 2 * len(segments) // 3  # the rest: the larger share
    assert list(sampler) != order.tolist()  # the next epoch is another shuffle
