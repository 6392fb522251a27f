"""Validating LeRobot v3.0 datasets, ours or anyone's: files, rows, timestamps, videos, stats, tasks."""

from dataprep.validate.report import Finding, ValidationReport
from dataprep.validate.validator import CHECKS, validate_dataset

__all__ = ["CHECKS", "Finding", "ValidationReport", "validate_dataset"]
