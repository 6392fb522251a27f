"""Looking into bags before converting them: per-topic summaries and a drafted pipeline configuration."""

from dataprep.inspect.draft import choose_fps, draft_config
from dataprep.inspect.summary import BagSummary, ImageFormat, TopicSummary, format_summary, inspect_bag

__all__ = ["BagSummary", "ImageFormat", "TopicSummary", "choose_fps", "draft_config", "format_summary", "inspect_bag"]
