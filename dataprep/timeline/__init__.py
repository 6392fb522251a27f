"""Aligning topics onto a fixed-fps frame grid in one streaming pass."""

from dataprep.timeline.aligner import NS_PER_S, AlignedFrame, Aligner, AlignmentReport, Channel
from dataprep.timeline.clock import Clock, header_stamp_ns

__all__ = ["NS_PER_S", "AlignedFrame", "Aligner", "AlignmentReport", "Channel", "Clock", "header_stamp_ns"]
