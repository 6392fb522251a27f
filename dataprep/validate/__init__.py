"""Validating LeRobot v3.0 datasets (ours or anyone's): files, rows, timestamps, video spans, stats, tasks, totals."""

from dataprep.validate.report import Finding, ValidationReport
from dataprep.validate.validator import CHECKS, validate_dataset

__all__ = ["CHECKS", "Finding", "ValidationReport", "validate_dataset"]
