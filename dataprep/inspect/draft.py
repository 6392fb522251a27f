"""A starting pipeline configuration drafted from what the bags hold, meant to convert as written.

Cameras are the colour image topics (the longest-running is the main camera), the fps is a standard rate that
gives each tick about two frames of the main camera, and every numeric field becomes a part of one feature per
topic: `nearest` for topics at least as fast as the grid that run through the bag; `hold` for slower or
partial ones (published on change, or only at the start); topics that start late are left out, since a
required topic that starts late cuts the grid short.
Each line carries a comment with what was seen (lengths, rates), so a person can cut it down to what the
policy needs. YAML is written by hand for those comments; strings go through JSON, which YAML reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from dataprep.inspect.summary import BagSummary, TopicSummary

_STANDARD_FPS = (30, 15, 10, 5, 2, 1)
_FRAMES_PER_TICK = 1.9  # main camera frames per tick: a dropped frame still leaves one near every tick
_COVERAGE = 0.8  # a topic spanning less of the bag than this would cut the grid short if it were required
_EARLY = 0.2  # a slow or partial topic is held from its last message if it starts in this first share of the bag
_GENERIC = {"image_raw", "compressed", "color", "image", "image_rect", "image_rect_color", "rgb", "raw", "camera"}


def _camera_name(topic: str, taken: set[str]) -> str:
    words = [w for w in topic.strip("/").split("/") if w and w not in _GENERIC] or ["camera"]
    base = re.sub(r"[^A-Za-z0-9_-]", "_", words[0])
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _feature_name(topic: str) -> str:
    return "observation." + re.sub(r"[^A-Za-z0-9_-]", "_", topic.strip("/"))


def choose_fps(rate_hz: float) -> int:
    """The largest standard rate that gets about two messages of `rate_hz` per tick."""
    return next((fps for fps in _STANDARD_FPS if fps <= rate_hz / _FRAMES_PER_TICK), 1)


def _common_topics(summaries: Sequence[BagSummary]) -> list[TopicSummary]:
    """The first bag's topics that every bag has (a required topic missing from one bag fails that bag)."""
    shared = set.intersection(*({t.topic for t in s.topics if t.count} for s in summaries))
    return [t for t in summaries[0].topics if t.topic in shared]


def draft_config(summaries: Sequence[BagSummary], bags: Sequence[Path]) -> str:
    """The YAML text of a pipeline configuration converting `bags` with everything they share."""
    topics = _common_topics(summaries)
    cameras = [t for t in topics if t.image is not None and not t.image.is_depth and t.image.width]
    main = max(cameras, key=lambda t: t.count, default=None)  # the longest-running camera starts the grid
    signals = [t for t in topics if t.image is None and t.fields]
    clock_rate = main.rate_hz if main else max((t.rate_hz for t in signals), default=1.0)
    fps = choose_fps(clock_rate)
    taken: set[str] = set()
    names = {t.topic: _camera_name(t.topic, taken) for t in cameras}
    lines = [
        f"# Drafted by `python -m flows.inspect_bags --draft-config` from {len(bags)} bag(s): review it, keep what",
        "# the policy needs, and say what the robot does in `task`.",
        "rosbag_to_lerobot:",
        "  input:",
        f"    bags: [{', '.join(json.dumps(str(Path(b).resolve())) for b in bags)}]",
        "  output_root: outputs",
        f"  repo_id: {json.dumps('local/' + re.sub(r'[^A-Za-z0-9_.-]', '_', Path(bags[0]).stem))}",
        '  task: "Describe the task here"',
        f"  fps: {fps}  # from the {'main camera' if main else 'fastest topic'} at {clock_rate:.1f} Hz",
    ]
    if main is not None:
        lines.append(f"  timeline: {{main_camera: {names[main.topic]}}}")
    if cameras:
        lines.append("  cameras:")
        for t in cameras:
            assert t.image is not None
            lines.append(f"    {names[t.topic]}: {{topic: {json.dumps(t.topic)}}}  # {t.image.encoding}, "
                         f"{t.image.width}x{t.image.height}, {t.rate_hz:.1f} Hz")
    skipped = [t.topic for t in topics if t.image is not None and t.image.is_depth]
    if skipped:
        lines.append(f"  # depth image topics left out: {', '.join(skipped)}")
    if signals:
        lines.append("  features:")
    duration = max(summaries[0].duration_s, 1e-9)
    for t in signals:
        continuous = t.count > 1 and (t.end_s - t.start_s) >= _COVERAGE * duration
        if not continuous and t.start_s > _EARLY * duration:
            lines.append(f"    # {t.topic} left out: it starts {t.start_s:.2f} s into a {duration:.2f} s bag")
            continue
        policy = "nearest" if continuous and t.rate_hz >= fps else "hold"
        total = sum(length for _, length in t.fields)
        lines += [f"    {_feature_name(t.topic)}:  # {t.msgtype}, {t.rate_hz:.1f} Hz, {total} values",
                  f"      align: {{policy: {policy}}}", "      parts:"]
        lines += [f"        - {{topic: {json.dumps(t.topic)}, field: {path}}}  # {length} value(s)"
                  for path, length in t.fields]
    return "\n".join(lines) + "\n"
