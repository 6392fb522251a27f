"""Editing LeRobot v3.0 datasets after conversion (trim, delete, ...): each edit builds the new version beside
the old one and swaps it in as a commit does, keeping meta/commit.json and meta/quality.json true."""

from dataprep.edit.build import EditSummary
from dataprep.edit.delete import delete_episodes
from dataprep.edit.merge import merge_datasets
from dataprep.edit.source import EditError, SourceDataset, read_source
from dataprep.edit.split import split_dataset
from dataprep.edit.trim import trim_episode

__all__ = [
    "EditError",
    "EditSummary",
    "SourceDataset",
    "delete_episodes",
    "merge_datasets",
    "read_source",
    "split_dataset",
    "trim_episode",
]
