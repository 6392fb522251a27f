"""What three video encoders hold over a long episode, and what closing them gives back (issue 18, two-hour bag).

    python -m bench.encoder_memory_bench --frames 72000 --codec libsvtav1   # a two-hour episode at 10 fps
    python -m bench.encoder_memory_bench --frames 7200 --codec h264

Three `VideoEncoder`s (the conversion's, 64x48 like longrec_bench's bags) are fed the same frames; RSS is
printed when they are open, every quarter of the frames, after they close and after `release_free_heap`.
What grows with the frames and goes at close is the mp4 muxer's sample table (the format writes its index at
the end); what stays after close is the encoders' own, the same for any length.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from dataprep.lerobot.video import VideoEncoder, VideoSettings
from dataprep.memory.snapshot import MB, release_free_heap, take_snapshot
from dataprep.sample.kuavo_bag import camera_frame


def rss_mb() -> float:
    return take_snapshot().rss / MB


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=72_000)
    p.add_argument("--codec", choices=["libsvtav1", "h264"], default="libsvtav1")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=48)
    args = p.parse_args(argv)
    frames = [camera_frame("cam_r", k * 3, args.height, args.width) for k in range(100)]
    print(f"{args.frames} frames x 3 encoders, {args.codec} {args.width}x{args.height}; start {rss_mb():.1f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        encoders = [VideoEncoder(Path(tmp) / f"cam{i}.mp4", 10, args.width, args.height,
                                 VideoSettings(codec=args.codec)) for i in range(3)]
        print(f"  opened: {rss_mb():.1f} MB")
        quarter = max(1, args.frames // 4)
        first_quarter = 0.0  # SVT-AV1 itself grows over its first ~1,000 frames; what follows is per frame
        for k in range(args.frames):
            for encoder in encoders:
                encoder.write(frames[k % len(frames)])
            if (k + 1) % quarter == 0:
                print(f"  {k + 1:>7} frames: {rss_mb():.1f} MB")
                first_quarter = first_quarter or rss_mb()
        written = rss_mb()
        for encoder in encoders:
            encoder.close()
        closed = rss_mb()
        release_free_heap()
        print(f"  closed: {closed:.1f} MB ({closed - written:+.1f}); heap released: {rss_mb():.1f} MB")
        later = args.frames - quarter
        print(f"  after the first quarter: {written - first_quarter:+.1f} MB over {later} frames, "
              f"{(written - first_quarter) * MB / (3 * max(1, later)):.0f} bytes per frame and camera")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
