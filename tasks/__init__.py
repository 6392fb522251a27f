"""Prefect tasks: thin wrappers around dataprep calls that add retries, artifacts and memory snapshots."""
