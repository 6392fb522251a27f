"""Editing committed datasets in place of a rebuild: compaction (and, from the edit branch, trim/delete/split/merge)."""
