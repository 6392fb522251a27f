"""Writing the viewer (streamed, thinned, safe about its output folder), serving it with Range requests, and
its command line. The browser side is tests/test_viewer_browser.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

import numpy as np
import pytest

from dataprep.lerobot import EpisodeWriter, finalize_dataset
from dataprep.lerobot.schema import DatasetSchema, VectorFeature
from dataprep.viewer import ViewerError, default_out, make_server, write_viewer
from dataprep.viewer.series import MAX_POINTS

PROJECT = Path(__file__).resolve().parent.parent
GOLDEN = PROJECT / "tests" / "golden"


def episode_data(out: Path, index: int) -> dict:
    text = (out / "data" / "episodes" / f"ep-{index:06d}.js").read_text()
    return json.loads(text.removeprefix("window.VIEWER_EPISODE = ").rstrip().removesuffix(";"))


def index_data(out: Path) -> dict:
    text = (out / "data" / "index.js").read_text()
    return json.loads(text.removeprefix("window.VIEWER_INDEX = ").rstrip().removesuffix(";"))


def vector_dataset(tmp: Path, lengths: list[int], spike: tuple[int, int] | None = None) -> Path:
    """Vector-only episodes: state = (frame, -frame), plus one spike (episode, frame) of 1e6 in element 0."""
    state = VectorFeature("observation.state", 2, "float32", ("up", "down"))
    schema = DatasetSchema(fps=10, robot_type="bot", cameras=(), vectors=(state,))
    staged = []
    for e, n in enumerate(lengths):
        with EpisodeWriter(tmp / "staging" / f"ep{e}", schema, f"task {e % 2}", f"src{e}", chunk_size=500) as w:
            for i in range(n):
                value = 1e6 if spike == (e, i) else float(i)
                w.add_frame({"observation.state": np.array([value, -i], np.float32)}, {})
            staged.append(w.close())
    return finalize_dataset(staged, tmp / "dataset", "local/vectors", schema).root


def test_a_long_episode_is_thinned_to_min_max_buckets_that_keep_every_spike(tmp_path: Path) -> None:
    root = vector_dataset(tmp_path, [30, 5 * MAX_POINTS + 7], spike=(1, 4321))
    summary = write_viewer(root)
    short, long = episode_data(summary.out, 0), episode_data(summary.out, 1)
    assert short["bucket"] == 1 and short["features"][0]["high"] is None
    assert short["features"][0]["low"] == [list(range(30)), [-i for i in range(30)]]
    assert short["features"][0]["names"] == ["up", "down"]
    assert long["bucket"] == 6 and long["points"] == long["length"] // 6 + 1 <= MAX_POINTS
    low, high = long["features"][0]["low"], long["features"][0]["high"]
    assert len(low[0]) == long["points"] and high[0][4321 // 6] == 1e6  # the one-frame spike survives
    assert high[0][10] == 65 and low[0][10] == 60 and low[1][10] == -65  # bucket 10: frames 60..65
    rows = index_data(summary.out)["episodes"]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(0, 30, ["task 0"], None), (1, long["length"], ["task 1"], None)]


def test_the_default_output_sits_beside_the_dataset_and_links_it(tmp_path: Path) -> None:
    root = vector_dataset(tmp_path, [3, 4])
    summary = write_viewer(root)
    assert summary.out == default_out(root) == root.parent / "dataset-viewer" and summary.linked
    assert (summary.out / "dataset").resolve() == root.resolve()
    assert (summary.out / "dataset").readlink() == Path("../dataset")  # relative: the two move together
    again = write_viewer(root)  # a rewrite replaces the old viewer whole
    assert again.out == summary.out and sorted(p.name for p in (summary.out / "data" / "episodes").iterdir()) == [
        "ep-000000.js", "ep-000001.js"]


def test_an_output_that_is_not_a_viewer_or_lies_inside_the_dataset_is_refused(tmp_path: Path) -> None:
    root = vector_dataset(tmp_path, [3])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ViewerError, match=r"mine exists and is not a viewer"):
        write_viewer(root, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ViewerError, match=r"a-file is not a folder"):
        write_viewer(root, tmp_path / "a-file")
    with pytest.raises(ViewerError, match=r"must live outside the dataset"):
        write_viewer(root, root / "viewer")
    with pytest.raises(ViewerError, match=r"not a LeRobot dataset \(meta/info.json is missing\)"):
        write_viewer(tmp_path / "mine")


def test_a_lerobot_image_dataset_gets_plots_and_no_video(tmp_path: Path) -> None:
    summary = write_viewer(GOLDEN / "image", tmp_path / "viewer")
    ep = episode_data(summary.out, 1)
    assert ep["videos"] == [] and ep["quality"] is None
    assert [f["key"] for f in ep["features"]] == ["observation.state", "action", "observation.gripper"]
    assert ep["features"][0]["names"] == ["x", "y", "z"] and len(ep["features"][0]["low"][0]) == ep["length"]
    assert index_data(summary.out)["image_cameras"] == ["observation.images.front"]


def test_the_server_answers_range_requests_with_the_slice(tmp_path: Path) -> None:
    summary = write_viewer(GOLDEN / "video", tmp_path / "viewer")
    mp4 = GOLDEN / "video/videos/observation.images.front/chunk-000/file-000.mp4"
    data = mp4.read_bytes()
    server = make_server(summary.serve_dir)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/dataset/videos/observation.images.front/chunk-000/file-000.mp4"
    try:
        for header, (start, end) in (("bytes=10-19", (10, 19)), ("bytes=100-", (100, len(data) - 1)),
                                     ("bytes=-5", (len(data) - 5, len(data) - 1))):
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": header})) as reply:
                assert reply.status == 206
                assert reply.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
                assert reply.read() == data[start:end + 1]
        with urllib.request.urlopen(url) as reply:  # no Range: the whole file, saying ranges are accepted
            assert reply.status == 200 and reply.headers["Accept-Ranges"] == "bytes" and reply.read() == data
        with pytest.raises(HTTPError) as outside:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Range": f"bytes={len(data)}-"}))
        assert outside.value.code == 416
    finally:
        server.shutdown()
        server.server_close()


def test_the_command_says_in_one_line_what_is_wrong_with_the_root(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "flows.view_dataset", str(tmp_path / "nowhere")], cwd=PROJECT,
                          env=env, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such dataset folder"
    assert "Traceback" not in done.stdout + done.stderr


def test_the_command_serves_the_viewer_on_loopback_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "flows.view_dataset", str(GOLDEN / "video"), "--out",
                             str(tmp_path / "viewer"), "--serve", "--port", "0"], cwd=PROJECT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/index\.html)", lines[1])
        assert match, lines
        with urllib.request.urlopen(match.group(1), timeout=10) as reply:
            assert reply.status == 200 and b"data/index.js" in reply.read()
        proc.send_signal(signal.SIGINT)
        printed, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped serving" in printed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
