"""Torch-native views of the training readers (the optional `torch` extra: `pip install "dataprep[torch]"`).

The readers themselves (`ReplaySampler`, `SegmentDataset`, `GoproSpikeDataset`) never import torch; these views
wrap them so that a `torch.utils.data.DataLoader` gets what it handles natively: tensors (never numpy arrays
pickled through the worker pipe), dicts that `default_collate` and `pin_memory` walk, a sampler for the LRU
mode's file-grouped order, and replay batches read straight into shared memory inside a worker. The recipes
in docs/recipes/ show one DataLoader per reader; docs/training-readers.md explains the choices.
"""

try:
    import torch  # noqa: F401 - fail here, with the fix, rather than deep inside a view
except ImportError as err:  # pragma: no cover - the torch tests skip without torch
    raise ImportError("dataprep.torchdata needs torch: pip install 'dataprep[torch]' (or torch itself)") from err

from dataprep.torchdata.gopro import GoproTorchDataset
from dataprep.torchdata.replay import ReplayStream, ReplayTransitions, keep_batch, replay_tensors
from dataprep.torchdata.segments import EpochOrderSampler, SegmentTorchDataset, collate_segment_tensors

__all__ = [
    "EpochOrderSampler",
    "GoproTorchDataset",
    "ReplayStream",
    "ReplayTransitions",
    "SegmentTorchDataset",
    "collate_segment_tensors",
    "keep_batch",
    "replay_tensors",
]
