"""Errors of the HDF5 stage; each names the file and, where known, the dataset."""

from __future__ import annotations

from dataprep.errors import DataprepError


class Hdf5Error(DataprepError):
    """A source file cannot be found, opened or read, or lacks a dataset the index needs."""


class IndexFolderError(Hdf5Error):
    """An index folder is missing, incomplete or was written by an incompatible version."""
