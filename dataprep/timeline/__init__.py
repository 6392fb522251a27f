"""Aligning topics onto a fixed-fps frame grid in one streaming pass."""

from dataprep.timeline.aligner import NS_PER_S, AlignedFrame, Aligner, AlignmentReport, Channel

__all__ = ["NS_PER_S", "AlignedFrame", "Aligner", "AlignmentReport", "Channel"]
