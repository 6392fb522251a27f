"""The streaming aligner against hand-computed grids (pure logic, no bags)."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from dataprep.timeline import NS_PER_S, Aligner, Channel

MS = 1_000_000


def run(aligner: Aligner, messages: list[tuple[str, int, object]]) -> list:
    frames = []
    for topic, t, payload in sorted(messages, key=lambda m: m[1]):
        frames.extend(aligner.push(topic, t, payload))
    return frames + aligner.finish()


def stream(topic: str, start_ms: float, period_ms: float, count: int, skip: Collection[int] = ()) -> list:
    return [(topic, int((start_ms + i * period_ms) * MS), (topic, i)) for i in range(count) if i not in skip]


def test_nearest_grid_starts_at_clock_and_picks_closest_messages() -> None:
    cam = Channel("cam", "/cam", "nearest", 20 * MS)
    joint = Channel("joint", "/joint", "nearest", 10 * MS)
    aligner = Aligner([cam, joint], fps=10, clock_topic="/cam")
    frames = run(aligner, stream("/cam", 1000, 33.3, 90) + stream("/joint", 995, 10, 310))
    assert frames[0].tick_ns == 1000 * MS
    assert [f.tick_ns for f in frames[:3]] == [1000 * MS, 1100 * MS, 1200 * MS]
    # tick 1100 ms: camera frames at 1099.0 (i=3) and joint at 1095/1105 -> ties pick the earlier
    assert frames[1].values[0] == ("/cam", 3)
    assert frames[1].values[1] == ("/joint", 10)
    assert all(abs(o) <= 20 * MS for f in frames for o in f.offsets_ns)
    assert aligner.report.emitted == len(frames) == 30
    assert not aligner.report.dropped


def test_late_topic_starts_the_grid_and_gaps_are_dropped_with_a_reason() -> None:
    cam = Channel("cam", "/cam", "nearest", 20 * MS)
    late = Channel("late", "/late", "nearest", 20 * MS)
    aligner = Aligner([cam, late], fps=10, clock_topic="/cam")
    frames = run(aligner, stream("/cam", 0, 33.3, 80) + stream("/late", 500, 33.3, 45, skip={15, 16, 17, 18}))
    assert frames[0].tick_ns == pytest.approx(532.8 * MS, abs=MS)  # first camera frame at/after 500 ms
    assert aligner.report.dropped == {"no /late message within 20 ms (nearest)": 1}
    assert aligner.report.emitted == len(frames)
    # the late stream ends at ~1965 ms while the camera goes on: later ticks are trimmed, not dropped
    assert frames[-1].tick_ns == pytest.approx(1932.8 * MS, abs=MS)
    assert aligner.report.trimmed == {"after the last /late message": 6}


def test_hold_asof_and_defaults() -> None:
    clock = Channel("clock", "/clock", "nearest", 5 * MS)
    held = Channel("held", "/held", "hold")
    recent = Channel("recent", "/recent", "asof", 150 * MS)
    optional = Channel("optional", "/optional", "hold", default=(0.0,))
    aligner = Aligner([clock, held, recent, optional], fps=10)
    messages = (stream("/clock", 0, 10, 200) + [("/held", 50 * MS, "h0"), ("/held", 1210 * MS, "h1")]
                + stream("/recent", 40, 400, 5) + [("/optional", 1000 * MS, "o1")])
    frames = run(aligner, messages)
    assert frames[0].tick_ns == 50 * MS  # the span starts when /held first speaks
    by_tick = {f.tick_ns // MS: f for f in frames}
    assert by_tick[850].values[1] == "h0" and by_tick[1250].values[1] == "h1"
    assert by_tick[450].values[2] == ("/recent", 1)  # 440 ms is 10 ms old
    assert 650 not in by_tick  # newest /recent (440 ms) is 210 ms old: dropped
    assert by_tick[950].values[3] == (0.0,) and by_tick[950].offsets_ns[3] is None
    assert by_tick[1250].values[3] == "o1"
    # ticks 50, 150, 450, 550, 850, 950 ms are emitted before /optional speaks at 1000 ms
    assert aligner.report.filled_by_default["optional"] == 6
    assert aligner.report.dropped["no /recent message in the 150 ms before the tick (asof)"] > 0


def test_sample_drop_cuts_both_ends() -> None:
    channel = Channel("c", "/c", "nearest", 5 * MS)
    plain = run(Aligner([channel], fps=10), stream("/c", 0, 100, 20))
    cut = run(Aligner([channel], fps=10, sample_drop=3), stream("/c", 0, 100, 20))
    assert [f.tick_ns for f in cut] == [f.tick_ns for f in plain[3:-3]]


def test_buffers_stay_small_on_long_streams() -> None:
    cam = Channel("cam", "/cam", "nearest", 20 * MS)
    fast = Channel("fast", "/fast", "nearest", 10 * MS)
    aligner = Aligner([cam, fast], fps=10, clock_topic="/cam")
    largest = 0
    for topic, t, payload in sorted(stream("/cam", 0, 33.3, 3000) + stream("/fast", 0, 2, 50000), key=lambda m: m[1]):
        aligner.push(topic, t, payload)
        largest = max(largest, *(len(b) for b in aligner._buffers.values()))
    assert largest < 30
    assert aligner.report.emitted > 900


def test_grid_has_no_drift() -> None:
    channel = Channel("c", "/c", "nearest", 1 * MS)
    frames = run(Aligner([channel], fps=30), [("/c", k * NS_PER_S // 30, k) for k in range(3001)])
    assert frames[-1].tick_ns == 100 * NS_PER_S
    assert [f.values[0] for f in frames] == list(range(3001))


def test_messages_out_of_order_are_rejected() -> None:
    aligner = Aligner([Channel("c", "/c", "nearest", MS)], fps=10)
    aligner.push("/c", 10, None)
    with pytest.raises(ValueError, match="older"):
        aligner.push("/c", 5, None)
