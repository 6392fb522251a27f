"""The viewer in headless Chromium: packed AV1 and h264 datasets converted from synthetic bags, and the one
lerobot 0.6.1 wrote (tests/golden/video). The index lists every episode with its score; on an episode page
every video reaches a playable state, plays, the plot cursor follows it within a frame, and a click on a plot
seeks it; from file:// and from the loopback server (Range requests). Chromium is driven over DevTools with
the pieces of scripts/ui_screenshot.py; every process started here is stopped by its PID.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.sync.client import connect

from dataprep.config import ConvertConfig
from dataprep.conversion import convert_dataset
from dataprep.lerobot import EpisodeWriter, finalize_dataset
from dataprep.lerobot.quality_files import read_document
from dataprep.lerobot.schema import DatasetSchema, VectorFeature
from dataprep.sample import Ros2BagSpec, write_ros2_bag
from dataprep.viewer import ViewerSummary, make_server, write_viewer

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # scripts/ is not a package of the project; its DevTools client is reused
from scripts.ui_screenshot import DevTools, start_chromium, stop  # noqa: E402

FPS = 5
NO_SCORE = "\u2013"  # the index's dash for an episode without a quality report
GOLDEN = PROJECT / "tests" / "golden" / "video"
# errors thrown in a page are kept for the test to read (installed before any page script runs)
CATCH_ERRORS = "window.__errors = []; addEventListener('error', e => window.__errors.push(String(e.message)));"


def convert(tmp: Path, codec: str) -> Path:
    """Two bags (a 15 Hz camera, and a 4 Hz one that fails the gap threshold and drops ticks) in 4-frame
    episodes, two cameras: every mp4 holds several episodes, each at its own span."""
    for i, hz in enumerate((15.0, 4.0)):
        write_ros2_bag(tmp / "bags" / f"b{i}", Ros2BagSpec(duration_s=2.3, camera_hz=hz, width=96, height=64))
    camera = {"align": {"policy": "nearest", "tolerance_s": 0.05}}
    config = ConvertConfig.model_validate({
        "input": {"bags": str(tmp / "bags")}, "output_root": str(tmp / "out"), "repo_id": f"test/{codec}",
        "fps": FPS, "task": "wave", "chunk_size": 4, "max_episode_frames": 4, "video": {"codec": codec},
        "quality": {"max_camera_gap_s": 0.2},
        "cameras": {"front": {"topic": "/camera/image_raw", **camera},
                    "wrist": {"topic": "/camera/image_raw", "resize": [32, 48], **camera}},
        "features": {
            "observation.state": {"parts": [{"topic": "/joint_states", "field": "position"}]},
            "action": {"align": {"policy": "asof", "tolerance_s": 0.2},
                       "parts": [{"topic": "/cmd_vel", "field": "linear.x"}, {"topic": "/cmd_vel", "field": "angular.z"}]},
        },
    })  # fmt: skip
    return convert_dataset(config).dataset.root


@pytest.fixture(scope="module")
def viewers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ViewerSummary]:
    tmp = tmp_path_factory.mktemp("viewers")
    summaries = {codec: write_viewer(convert(tmp / codec, codec)) for codec in ("libsvtav1", "h264")}
    summaries["golden"] = write_viewer(GOLDEN, tmp / "golden-viewer")
    summaries["golden-image"] = write_viewer(GOLDEN.parent / "image", tmp / "golden-image-viewer")
    return summaries


class Browser:
    """One headless Chromium for the module, one page, driven over DevTools."""

    def __init__(self, tools: DevTools) -> None:
        self.tools = tools

    def value(self, expression: str) -> Any:
        reply = self.tools.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def open(self, url: str, ready: str) -> None:
        self.tools.call("Page.navigate", url=url)
        self.wait(ready, f"{url}: {ready}")

    def wait(self, condition: str, what: str, timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if value := self.value(f"(() => {{ try {{ return {condition}; }} catch (e) {{ return null; }} }})()"):
                return value
            time.sleep(0.1)
        raise AssertionError(f"never true within {timeout_s:.0f} s: {what}; page errors: {self.value('window.__errors')}")


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="viewer-chromium-") as profile:
        proc, ws_url = start_chromium(chromium, Path(profile), 1300, 1000)
        try:
            with connect(ws_url, max_size=None) as ws:
                tools = DevTools(ws)
                tools.call("Page.enable")
                tools.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_ERRORS)
                yield Browser(tools)
        finally:
            stop(proc)


@pytest.fixture(scope="module")
def served(viewers: dict[str, ViewerSummary]) -> Iterator[Callable[[ViewerSummary], str]]:
    """The viewers' folders on loopback servers (one per viewer): the base URL of each."""
    servers: dict[Path, Any] = {}

    def base(summary: ViewerSummary) -> str:
        if summary.serve_dir not in servers:
            server = make_server(summary.serve_dir)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers[summary.serve_dir] = server
        page = summary.out.relative_to(summary.serve_dir).as_posix()
        return f"http://127.0.0.1:{servers[summary.serve_dir].server_port}/{page}/".replace("/./", "/")

    yield base
    for server in servers.values():
        server.shutdown()
        server.server_close()


def quality_scores(root: Path) -> dict[int, float | None]:
    document = read_document(root)
    if document is None:
        return {}
    return {e.episode_index: e.quality.score if e.quality else None for e in document.episodes
            if e.episode_index is not None}


@pytest.mark.parametrize("name", ["libsvtav1", "h264", "golden"])
def test_the_index_lists_every_episode_with_its_score_and_filters_the_failing(
        name: str, viewers: dict[str, ViewerSummary], browser: Browser) -> None:
    summary = viewers[name]
    browser.open(summary.index.as_uri(), "window.viewerIndex")
    shown = browser.value("viewerIndex.shown()")
    scores = quality_scores(summary.root)
    assert [row["episode"] for row in shown] == list(range(summary.episodes))
    expected = [f"{scores[e]:.3f}" if e in scores else NO_SCORE for e in range(summary.episodes)]
    assert [row["cells"][4] for row in shown] == expected
    document = read_document(summary.root)
    failing = document.failing_episodes if document and scores else []
    browser.value("(() => { const box = document.getElementById('failing'); box.checked = true; "
                  "box.dispatchEvent(new Event('input')); return true; })()")
    assert [row["episode"] for row in browser.value("viewerIndex.shown()")] == failing
    if name != "golden":
        assert failing and len(failing) < summary.episodes  # the 4 Hz bag fails, the 15 Hz one passes
    assert browser.value("window.__errors") == []


def check_episode(browser: Browser, url: str, episode: int) -> None:
    browser.open(f"{url}?e={episode}", "window.viewerEpisode")
    ep = browser.value("viewerEpisode.episode")
    frame = 1 / ep["fps"]
    duration = ep["length"] / ep["fps"]
    assert ep["videos"] and ep["features"]
    browser.wait("viewerEpisode.readyStates().every(s => s >= 2)", f"{url}: every video playable (readyState >= 2)")
    assert all(abs(t) < 1e-3 for t in browser.value("viewerEpisode.videoTimes()"))  # at its own span's start
    browser.value("viewerEpisode.play()")
    browser.wait(f"viewerEpisode.videoTimes().every(t => t > {min(0.3, duration / 3)})", f"{url}: videos play")
    # read inside an animation frame, after the page's own frame callback has moved the cursor for it
    sample = browser.value("new Promise(r => requestAnimationFrame(() => "
                           "r({v: viewerEpisode.videoTimes(), c: viewerEpisode.cursorTimes()})))")
    assert all(0 < t < duration for t in sample["v"]), sample
    for cursor in sample["c"]:  # the cursor drawn on every plot follows the master video within a frame
        assert abs(cursor - sample["v"][0]) < frame, sample
    browser.value("viewerEpisode.pause()")
    target = browser.value("viewerEpisode.clickPlot(0, 0.25)")  # a real click event on the first plot
    browser.wait(f"viewerEpisode.videoTimes().every(t => Math.abs(t - {target}) < {frame / 2}) && "
                 "viewerEpisode.readyStates().every(s => s >= 2)", f"{url}: the click seeks every video to {target}")
    assert all(abs(c - target) < frame for c in browser.value("viewerEpisode.cursorTimes()"))
    absolute = browser.value("[...document.querySelectorAll('video')].map(v => v.currentTime)")
    for spec, time_s in zip(ep["videos"], absolute):  # inside this episode's span of the packed mp4
        assert spec["from"] <= time_s < spec["to"], (spec, time_s)
    assert browser.value("window.__errors") == []


@pytest.mark.parametrize("name", ["libsvtav1", "h264", "golden"])
def test_an_episode_inside_a_packed_mp4_plays_in_sync_with_its_plots_from_the_file_system(
        name: str, viewers: dict[str, ViewerSummary], browser: Browser) -> None:
    summary = viewers[name]
    check_episode(browser, (summary.out / "episode.html").as_uri(), summary.episodes - 1)


@pytest.mark.parametrize("name", ["libsvtav1", "h264", "golden"])
def test_an_episode_plays_and_seeks_from_the_loopback_server(
        name: str, viewers: dict[str, ViewerSummary], browser: Browser,
        served: Callable[[ViewerSummary], str]) -> None:
    summary = viewers[name]
    check_episode(browser, served(summary) + "episode.html", 1)


def test_an_image_mode_dataset_plays_its_plots_on_a_clock_and_seeks_on_click(
        viewers: dict[str, ViewerSummary], browser: Browser) -> None:
    summary = viewers["golden-image"]  # lerobot's image-mode dataset: PNG frames in the parquet, no mp4
    browser.open((summary.out / "episode.html").as_uri() + "?e=0", "window.viewerEpisode")
    assert browser.value("viewerEpisode.episode.videos") == []
    assert browser.value("document.querySelectorAll('.plot').length") == 3
    browser.value("viewerEpisode.play()")
    browser.wait("viewerEpisode.cursorTimes().every(t => t > 0.2)", "the cursor runs on the page's clock")
    browser.value("viewerEpisode.pause()")
    target = browser.value("viewerEpisode.clickPlot(2, 0.5)")
    assert all(abs(c - target) < 1e-6 for c in browser.value("viewerEpisode.cursorTimes()"))
    assert browser.value("window.__errors") == []


def test_dropped_ticks_are_placed_on_the_episodes_time_axis(viewers: dict[str, ViewerSummary],
                                                            browser: Browser) -> None:
    summary = viewers["h264"]
    document = read_document(summary.root)
    entries = [e.to_json() for e in document.episodes] if document else []
    for entry in entries:  # every drop the episode counts is placed, at a frame inside the episode
        quality = entry["quality"]
        placed: dict[str, int] = {}
        for frames, reason, count in quality["drops_at"]:
            assert 0 <= frames <= entry["frames"]
            placed[reason] = placed.get(reason, 0) + count
        assert placed == quality["dropped"], entry["episode_index"]
    dropping = next(e for e in entries if e["quality"]["drops_at"])
    browser.open((summary.out / "episode.html").as_uri() + f"?e={dropping['episode_index']}", "window.viewerEpisode")
    marks = browser.value("[...document.querySelectorAll('#drops .mark')].map(m => Number(m.dataset.frame))")
    assert marks == [frames for frames, _, _ in dropping["quality"]["drops_at"]]
    browser.value("document.querySelector('#drops .mark').click()")  # a mark seeks to where the drop was
    at = dropping["quality"]["drops_at"][0][0] / FPS
    browser.wait(f"viewerEpisode.cursorTimes().every(t => Math.abs(t - {at}) < 1e-6)", "a drop mark seeks")
    assert browser.value("window.__errors") == []


def test_a_thinned_long_episode_draws_its_bands_and_seeks(tmp_path: Path, browser: Browser) -> None:
    """A 5000-frame vector-only episode (no camera): plotted as min-max buckets, the page's clock plays it."""
    schema = DatasetSchema(fps=FPS, robot_type="bot", cameras=(), vectors=(VectorFeature("action", 3),))
    with EpisodeWriter(tmp_path / "staging" / "ep0", schema, "long", "synthetic", chunk_size=1000) as writer:
        for i in range(5000):
            writer.add_frame({"action": np.array([np.sin(i / 50), i % 7, 1e3 * (i == 2500)], np.float32)}, {})
        staged = writer.close()
    root = finalize_dataset([staged], tmp_path / "long", "local/long", schema).root
    summary = write_viewer(root)
    browser.open((summary.out / "episode.html").as_uri() + "?e=0", "window.viewerEpisode")
    assert browser.value("viewerEpisode.episode.bucket") == 3
    assert browser.value("viewerEpisode.episode.features[0].high[2].some(v => v === 1000)")  # the spike kept
    drawn = browser.value("(() => { const c = document.querySelector('.plot canvas'); const g = c.getContext('2d');"
                          " const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;"
                          " for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()")
    assert drawn > 10_000  # grid, bands and lines are on the canvas
    target = browser.value("viewerEpisode.clickPlot(0, 0.5)")
    assert abs(target - 5000 / FPS / 2) < 2 / FPS
    assert all(abs(c - target) < 1e-6 for c in browser.value("viewerEpisode.cursorTimes()"))
    assert browser.value("window.__errors") == []
