"""Long recordings and many appends: memory flat in recording length, appends that cost only what is new.

    python -m bench.longrec_bench index                 # index memory of a 1 M-message bag, each format
    python -m bench.longrec_bench memory --long 1800    # peak RSS: long Kuavo-like bag / 20 s bag
    python -m bench.longrec_bench memory --reader rosbags --profile   # the same with rosbags' ROS1 reader
    python -m bench.longrec_bench memory --long 7200 --timeline   # and where in the run the RSS rises
    python -m bench.longrec_bench appends --runs 100    # nightly appends of a short bag to one dataset
    python -m bench.longrec_bench appends --runs 30 --append-seconds 10 --width 640 --height 480 --codec h264
    python -m bench.longrec_bench compact --work-dir DIR --keep   # compaction alone, on a kept appends run
    python -m bench.longrec_bench appends --runs 10 --append-seconds 10 --width 640 --height 480 --codec h264 \
        --noise 12                                        # frames that encode to a real camera's ~10 KB

Every measurement runs in its own subprocess (ru_maxrss is per process). Long bags are written at the real
Kuavo message rates (three 30 Hz JPEG cameras, 500 Hz sensors and joint commands, 30 Hz arm trajectory, 5 Hz
claw) with small images, by repeating their first 10 s shifted in time: the index grows with messages, so
the images' size does not matter to what is measured, and the bag is written at disk speed. Generated data
goes under --work-dir and is deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PRESET = ROOT / "configs" / "kuavo.yaml"
MB = 1024 * 1024
INDEX_TARGET_MB = 20.0
RSS_RATIO_TARGET = 1.1
APPEND_RATIO_TARGET = 1.1


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int:
    """This process's own high-water mark (VmHWM). Not `ru_maxrss`: a worker started by a parent that has just
    written an 11 GB bag inherits the parent's resident size at fork (measured: 1,306 MB for a 20 s bag whose
    conversion peaks at 254 MB)."""
    from dataprep.memory.snapshot import peak_rss

    return peak_rss()


# -- bags ----------------------------------------------------------------------------------------------


def write_float_bag(path: Path, fmt: str, messages: int, topics: int = 5) -> Path:
    """`messages` small std_msgs/Float64 messages over `topics` topics at 1 kHz, in the given format."""
    from rosbags.typesys import Stores, get_typestore

    if path.exists():
        return path
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
    msgtype = "std_msgs/msg/Float64"
    if fmt == "ros1":
        from rosbags.rosbag1 import Writer

        store = get_typestore(Stores.ROS1_NOETIC)
        payload = store.serialize_ros1(store.types[msgtype](1.0), msgtype)
        with Writer(tmp) as writer:
            conns = [writer.add_connection(f"/t{i}", msgtype, typestore=store) for i in range(topics)]
            for k in range(messages):
                writer.write(conns[k % topics], 10**18 + k * 1_000_000, payload)
    else:
        from rosbags.rosbag2 import StoragePlugin
        from rosbags.rosbag2 import Writer as Writer2

        store = get_typestore(Stores.ROS2_HUMBLE)
        payload = store.serialize_cdr(store.types[msgtype](1.0), msgtype)
        storage = StoragePlugin.MCAP if fmt == "mcap" else StoragePlugin.SQLITE3
        with Writer2(tmp, version=9, storage_plugin=storage) as writer2:
            conns2 = [writer2.add_connection(f"/t{i}", msgtype, typestore=store) for i in range(topics)]
            for k in range(messages):
                writer2.write(conns2[k % topics], 10**18 + k * 1_000_000, payload)
    os.replace(tmp, path)
    return path


def kuavo_long_bag(work: Path, seconds: float, width: int, height: int) -> Path:
    from dataprep.sample.kuavo_bag import KuavoBagSpec, write_kuavo_bag

    path = work / f"kuavo_{seconds:g}s_{width}x{height}_500hz.bag"
    if not path.exists():
        t0 = time.perf_counter()
        spec = KuavoBagSpec(duration_s=seconds, width=width, height=height, sensors_hz=500)
        write_kuavo_bag(path, spec, repeat_s=min(10.0, seconds))
        print(f"wrote {path.name}: {path.stat().st_size / MB:.0f} MB in {time.perf_counter() - t0:.0f} s")
    return path


# -- workers (one subprocess each) ---------------------------------------------------------------------


def _use_rosbags_ros1_reader() -> None:
    """Measure the code as it was: rosbags' ROS1 reader (one record per message) behind BagReader."""
    import rosbags.rosbag1

    from dataprep.rosbag import reader

    reader.Ros1Reader = rosbags.rosbag1.Reader  # type: ignore[misc,assignment]


def work_index(args: argparse.Namespace) -> dict[str, Any]:
    """Memory held by the open reader, and the most held while reading every message (no decoding)."""
    from dataprep.rosbag import BagReader

    if args.reader == "rosbags":
        _use_rosbags_ros1_reader()
    rss0 = _rss()
    tracemalloc.start()
    t0 = time.perf_counter()
    with BagReader(Path(args.bag)) as bag:
        opened, _ = tracemalloc.get_traced_memory()
        rss_open = _rss() - rss0
        open_s = time.perf_counter() - t0
        tracemalloc.reset_peak()
        count = sum(1 for _ in bag.times())
        _, reading = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"messages": count, "open_traced": opened, "read_peak_traced": reading, "open_rss": rss_open,
            "open_s": open_s}


def _convert_config(bag: Path, out: Path, codec: str) -> Any:
    from dataprep.config import ConvertConfig, load_config

    return load_config(ConvertConfig, PRESET, [f"input.bags={json.dumps([str(bag)])}",
                                               f"output_root={json.dumps(str(out))}", "repo_id=bench/longrec",
                                               f"video.codec={codec}"])


class PeakSnapshot:
    """Samples tracemalloc every `interval` s and keeps the snapshot taken at the highest traced memory."""

    def __init__(self, interval: float = 1.0) -> None:
        import threading

        self.interval, self.best = interval, 0
        self.snapshot: tracemalloc.Snapshot | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSnapshot:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            current, _ = tracemalloc.get_traced_memory()
            if current > self.best * 1.02:
                self.best, self.snapshot = current, tracemalloc.take_snapshot()

    def top(self, count: int = 6) -> list[str]:
        if self.snapshot is None:
            return []
        stats = self.snapshot.filter_traces([tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")])
        lines = [f"{s.size / MB:7.1f} MB {s.count:>9} blocks  {s.traceback[-1]}"
                 for s in stats.statistics("lineno")[:count]]
        return [f"at the traced peak ({self.best / MB:.1f} MB of Python allocations; encoders are not traced):",
                *lines]


class _VideoLog(logging.Handler):
    """Keeps what `dataprep.lerobot.video` logs at INFO, to print beside the figures."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        logger = logging.getLogger("dataprep.lerobot.video")
        logger.setLevel(logging.INFO)
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"video: {record.getMessage()}")


class RssTimeline:
    """RSS every `interval` s with the main thread's innermost dataprep frame: where in the conversion the
    resident memory rises (the encoders are C, so tracemalloc cannot see them; RSS does)."""

    def __init__(self, interval: float = 0.05) -> None:
        import threading

        self.interval = interval
        self.samples: list[tuple[float, int, str]] = []  # (seconds, rss bytes, "module:function")
        self._main = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssTimeline:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _where(self) -> str:
        frame = sys._current_frames().get(self._main)
        while frame is not None and "dataprep" not in frame.f_code.co_filename:
            frame = frame.f_back
        return f"{Path(frame.f_code.co_filename).stem}:{frame.f_code.co_name}" if frame is not None else "-"

    def _run(self) -> None:
        from dataprep.memory.snapshot import take_snapshot

        while not self._stop.wait(self.interval):
            self.samples.append((time.perf_counter() - self._t0, take_snapshot().rss, self._where()))

    def lines(self, phases: int = 12) -> list[str]:
        """The highest RSS of each of the `phases` busiest-in-memory places, in order of time."""
        best: dict[str, tuple[float, int]] = {}
        for t, rss, where in self.samples:
            if rss > best.get(where, (0.0, 0))[1]:
                best[where] = (t, rss)
        top = sorted(sorted(best.items(), key=lambda kv: -kv[1][1])[:phases], key=lambda kv: kv[1][0])
        return ["RSS timeline (highest RSS per place in the main thread):",
                *(f"  {t:8.1f} s {rss / MB:7.1f} MB  {where}" for where, (t, rss) in top)]


def work_convert(args: argparse.Namespace) -> dict[str, Any]:
    """One conversion of one bag into one episode; peak RSS, or (profiled) the top holders at the traced peak."""
    from dataprep.conversion import convert_dataset

    if args.reader == "rosbags":
        _use_rosbags_ros1_reader()
    config = _convert_config(Path(args.bag), Path(args.out), args.codec)
    shutil.rmtree(args.out, ignore_errors=True)
    top: list[str] = []
    video_log = _VideoLog()  # the encoder's INFO lines (packets it handed out of decode order)
    t0 = time.perf_counter()
    if args.profile:
        tracemalloc.start(1)
        with PeakSnapshot() as peak:
            report = convert_dataset(config)
        top = peak.top()
        tracemalloc.stop()
    elif args.timeline:
        with RssTimeline() as timeline:
            report = convert_dataset(config)
        top = timeline.lines()
    else:
        report = convert_dataset(config)
    top += video_log.lines
    wall = time.perf_counter() - t0
    return {"peak_rss": _peak_rss(), "wall_s": wall, "frames": report.dataset.frames,
            "episodes": report.dataset.episodes, "top": top}


class MetaReads:
    """Counts what is read from the dataset's own files: text/JSON bytes, and parquet rows and bytes."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.text_bytes = self.parquet_rows = self.parquet_bytes = 0

    def _inside(self, path: Any) -> bool:
        return str(path).startswith(self.root)

    def install(self) -> None:
        import pyarrow.parquet as pq

        reads, read_text, read_table = self, Path.read_text, pq.read_table
        read_row_group = pq.ParquetFile.read_row_group

        def counted_text(path: Path, *a: Any, **k: Any) -> str:
            text = read_text(path, *a, **k)
            if reads._inside(path):
                reads.text_bytes += len(text.encode())
            return text

        def counted_table(source: Any, *a: Any, **k: Any) -> Any:
            table = read_table(source, *a, **k)
            if reads._inside(source):
                reads.parquet_rows, reads.parquet_bytes = reads.parquet_rows + table.num_rows, \
                    reads.parquet_bytes + table.nbytes
            return table

        def counted_group(parquet: Any, *a: Any, **k: Any) -> Any:
            table = read_row_group(parquet, *a, **k)
            reads.parquet_rows, reads.parquet_bytes = reads.parquet_rows + table.num_rows, \
                reads.parquet_bytes + table.nbytes
            return table

        Path.read_text = counted_text  # type: ignore[method-assign,assignment]
        pq.read_table = counted_table
        pq.ParquetFile.read_row_group = counted_group  # type: ignore[method-assign]

    def take(self) -> tuple[int, int, int]:
        out = (self.text_bytes, self.parquet_rows, self.parquet_bytes)
        self.text_bytes = self.parquet_rows = self.parquet_bytes = 0
        return out


def work_appends(args: argparse.Namespace) -> dict[str, Any]:
    """`runs` appends, each converting one new short bag into the same dataset, in one process."""
    from dataprep.config import ConvertConfig, load_config
    from dataprep.conversion import convert_dataset

    bags = sorted(Path(args.bag).glob("night_*.bag"))[: args.runs]
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    reads: MetaReads | None = None
    rows = []
    seen: set[int] = set()  # inodes of meta/ files after the previous append (hard links keep them)
    for bag in bags:
        config = load_config(ConvertConfig, PRESET, [f"input.bags={json.dumps([str(bag)])}",
                                                     f"output_root={json.dumps(str(out))}",
                                                     "repo_id=bench/appends", f"video.codec={args.codec}"])
        if reads is None:
            reads = MetaReads(config.dataset_root)
            reads.install()
        t0 = time.perf_counter()
        report = convert_dataset(config)
        wall = time.perf_counter() - t0
        files = sum(1 for p in config.dataset_root.rglob("*") if p.is_file())
        metas = {p.stat().st_ino: p.stat().st_size for p in (config.dataset_root / "meta").rglob("*") if p.is_file()}
        written = sum(size for ino, size in metas.items() if ino not in seen)  # new inodes: not linked over
        seen = set(metas)
        rows.append({"wall_s": wall, "episodes": report.dataset.episodes, "files": files,
                     "meta_bytes": sum(metas.values()), "meta_written": written, "read": reads.take()})
        if len(rows) == len(bags) // 2:  # the dataset at half the appends, for compaction's memory
            shutil.copytree(out, out.with_name("appends-half"), dirs_exist_ok=True)
    return {"rows": rows, "root": str(config.dataset_root)}


def _durable_copy(src: str, dst: str) -> None:
    shutil.copy2(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _linked_copy(root: Path, dest: Path) -> Path:
    """A copy of the dataset made of hard links (instant): compaction never changes a file in place."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(root, dest, copy_function=os.link)
    return dest


def work_compact(args: argparse.Namespace) -> dict[str, Any]:
    """In one process, after every import compaction needs: `repeat` times, alternating which goes first, copy
    the dataset's bytes once durably (copy2 + fsync per file: the yardstick) and compact a hard-linked copy of
    it (the dataset itself is never changed). Medians of each, peak RSS, files before/after."""
    import av  # noqa: F401  # every lazy import compaction triggers, loaded before any timing

    from dataprep.edit.compact import compact_dataset
    root = Path(args.out)
    copy, work = root.with_name(root.name + "-copy"), root.with_name(root.name + "-work")
    copies, compactions = [], []
    summary = None
    rss0 = _peak_rss()
    for k in range(args.repeat):
        for step in (("copy", "compact") if k % 2 == 0 else ("compact", "copy")):
            if step == "copy":
                t0 = time.perf_counter()
                shutil.copytree(root, copy, copy_function=_durable_copy)
                copies.append(time.perf_counter() - t0)
                shutil.rmtree(copy)
            else:
                _linked_copy(root, work)
                t0 = time.perf_counter()
                summary = compact_dataset(work)
                compactions.append(time.perf_counter() - t0)
                shutil.rmtree(work)
    assert summary is not None
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    files = sum(1 for p in root.rglob("*") if p.is_file())
    return {"copy_s": statistics.median(copies), "compact_s": statistics.median(compactions), "bytes": size,
            "files": files, "peak_rss": _peak_rss(), "rss_before": rss0, "before": summary.before,
            "after": summary.after, "copies": copies, "compactions": compactions}


_COPY = ("import os, shutil, sys\n"
         "def durable(src, dst):\n"
         "    shutil.copy2(src, dst); fd = os.open(dst, os.O_RDONLY); os.fsync(fd); os.close(fd)\n"
         "shutil.copytree(sys.argv[1], sys.argv[2], copy_function=durable)\n")


def whole_processes(root: Path, repeat: int) -> tuple[float, float]:
    """Medians of `python -m flows.edit_dataset compact` (a hard-linked copy) and of a Python process doing
    the durable copy, each timed as a whole subprocess, imports included, alternating."""
    copy, work = root.with_name(root.name + "-copy"), root.with_name(root.name + "-work")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    times: dict[str, list[float]] = {"copy": [], "compact": []}
    for k in range(repeat):
        for step in (("copy", "compact") if k % 2 == 0 else ("compact", "copy")):
            if step == "compact":
                _linked_copy(root, work)
                cmd = [sys.executable, "-m", "flows.edit_dataset", "compact", str(work)]
            else:
                cmd = [sys.executable, "-c", _COPY, str(root), str(copy)]
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
            times[step].append(time.perf_counter() - t0)
            shutil.rmtree(work if step == "compact" else copy)
    return statistics.median(times["compact"]), statistics.median(times["copy"])


def main_appends(args: argparse.Namespace, work: Path) -> bool:
    from dataprep.sample.kuavo_bag import KuavoBagSpec, write_kuavo_bag

    nights = work / "nights"
    nights.mkdir(exist_ok=True)
    first = write_kuavo_bag(nights / "night_000.bag", KuavoBagSpec(duration_s=args.append_seconds,
                                                                   width=args.width, height=args.height,
                                                                   noise=args.noise))
    for k in range(1, args.runs):
        (nights / f"night_{k:03d}.bag").unlink(missing_ok=True)
        os.link(first, nights / f"night_{k:03d}.bag")  # the same bytes under a new name: a new source
    done = run_worker("appends", work=work, bag=nights, out=work / "appends", codec=args.codec, runs=args.runs)
    rows, root = done["rows"], done["root"]
    print(f"{args.runs} appends of a {args.append_seconds:g} s bag (codec {args.codec}, noise {args.noise}); reads of "
          "the dataset's own files per append: JSON/text bytes, parquet rows, parquet bytes; meta/ bytes written "
          "(new files)")
    print(f"{'run':>4} {'wall s':>7} {'episodes':>8} {'files':>6} {'meta KB':>8} {'text B':>8} {'pq rows':>8} "
          f"{'pq B':>8} {'meta B w':>9}")
    for i, r in enumerate(rows):
        if i < 3 or i % 10 == 9 or i >= len(rows) - 2:
            text, prow, pbytes = r["read"]
            print(f"{i + 1:>4} {r['wall_s']:>7.2f} {r['episodes']:>8} {r['files']:>6} {r['meta_bytes'] / 1024:>8.0f} "
                  f"{text:>8} {prow:>8} {pbytes:>8} {r['meta_written']:>9}")
    result = main_compact(work, Path(str(work / "appends") + "-half"), Path(root), args.repeat)
    tenth = max(1, len(rows) // 10)
    head = statistics.median(r["wall_s"] for r in rows[1:tenth + 1])  # the first run creates the dataset
    tail = statistics.median(r["wall_s"] for r in rows[-tenth:])
    ratio = tail / head
    print(f"median wall of appends 2-{tenth + 1}: {head:.2f} s; of the last {tenth}: {tail:.2f} s; ratio {ratio:.2f} "
          f"(target <= {APPEND_RATIO_TARGET}) {'PASS' if ratio <= APPEND_RATIO_TARGET else 'FAIL'}")
    return ratio <= APPEND_RATIO_TARGET and result


def main_compact(work: Path, half: Path, full: Path, repeat: int = 3) -> bool:
    """Compaction of the dataset at half the appends and at all of them: time against one copy, memory."""
    ok = True
    rss = []
    print(f"compaction against a durable copy of the same bytes (copy2 + fsync per file), median of {repeat}, "
          "alternating; in-process = one process, every import done before timing; whole = subprocesses")
    for label, output in (("half", half), ("all", full.parent.parent)):
        root = output / full.relative_to(full.parent.parent)
        r = run_worker("compact", work=work, out=root, repeat=repeat)
        rss.append(r["peak_rss"])
        ratio = r["compact_s"] / r["copy_s"]
        whole_compact, whole_copy = whole_processes(root, repeat)
        print(f"  {label} of the appends, {r['bytes'] / MB:.1f} MB in {r['files']} files: "
              f"{sum(r['before'].values())} -> {sum(r['after'].values())} files; in-process {r['compact_s']:.2f} s vs "
              f"{r['copy_s']:.2f} s copy ({ratio:.2f}x, target <= 1 {'PASS' if ratio <= 1 else 'FAIL'}); whole "
              f"{whole_compact:.2f} s vs {whole_copy:.2f} s ({whole_compact / whole_copy:.2f}x); "
              f"peak RSS {r['peak_rss'] / MB:.0f} MB")
        ok &= all(n == 1 for n in r["after"].values()) and ratio <= 1
    print(f"compaction peak RSS all/half = {rss[1] / rss[0]:.3f}")
    return ok


# -- driver --------------------------------------------------------------------------------------------


def run_worker(kind: str, **kwargs: Any) -> dict[str, Any]:
    result = Path(kwargs.pop("work")) / f"result-{kind}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, "-m", "bench.longrec_bench", "--worker", kind, "--result", str(result)]
    for key, value in kwargs.items():
        if isinstance(value, bool):
            cmd += [f"--{key.replace('_', '-')}"] if value else []
        else:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "SVT_LOG": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{kind} worker failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(result.read_text())
    result.unlink()
    return data


def main_index(args: argparse.Namespace, work: Path) -> bool:
    ok = True
    print(f"index memory, {args.messages:,} messages (std_msgs/Float64, 5 topics), target <= {INDEX_TARGET_MB} MB")
    print(f"{'format':<8} {'reader':<16} {'open (traced)':>14} {'read peak':>10} {'open RSS':>9} {'open s':>7}")
    for fmt in args.formats:
        t0 = time.perf_counter()
        suffix = {"ros1": ".bag", "mcap": "-mcap", "sqlite3": "-db3"}[fmt]
        bag = write_float_bag(work / f"float_{args.messages}{suffix}", fmt, args.messages)
        print(f"  (wrote {bag.name} in {time.perf_counter() - t0:.0f} s)")
        readers = ["stream", "rosbags"] if fmt == "ros1" else ["stream"]
        for reader in readers:
            r = run_worker("index", work=work, bag=bag, reader=reader)
            held = max(r["open_traced"], r["read_peak_traced"]) / MB
            name = "rosbags Reader" if reader == "rosbags" else ("StreamingRos1" if fmt == "ros1" else "rosbags")
            mark = "PASS" if held <= INDEX_TARGET_MB else "FAIL"
            if reader == "stream":
                ok &= held <= INDEX_TARGET_MB
            print(f"{fmt:<8} {name:<16} {r['open_traced'] / MB:>11.1f} MB {r['read_peak_traced'] / MB:>7.1f} MB "
                  f"{r['open_rss'] / MB:>6.0f} MB {r['open_s']:>7.1f}  {mark if reader == 'stream' else 'before'}")
    return ok


def _convert_row(work: Path, seconds: float, bag: Path, args: argparse.Namespace, profile: bool) -> dict[str, Any]:
    r = run_worker("convert", work=work, bag=bag, out=work / "out", codec=args.codec, reader=args.reader,
                   profile=profile, timeline=args.timeline and not profile)
    shutil.rmtree(work / "out", ignore_errors=True)
    label = "profiled, " if profile else ""
    print(f"{seconds:>7g} s bag ({bag.stat().st_size / MB:,.0f} MB): {r['frames']:,} frames in "
          f"{r['episodes']} episode(s), {label}peak RSS {r['peak_rss'] / MB:.0f} MB, wall {r['wall_s']:.1f} s")
    for line in r["top"]:
        print(f"      {line}")
    return r


def main_memory(args: argparse.Namespace, work: Path) -> bool:
    """Peak RSS of the long bag / the short bag; with --profile, tracemalloc's top holders of a medium one."""
    print(f"ROS1 reader: {args.reader}; codec {args.codec}; {args.width}x{args.height} images")
    short = kuavo_long_bag(work, args.short, args.width, args.height)
    if args.profile:
        medium = kuavo_long_bag(work, args.profile_seconds, args.width, args.height)
        _convert_row(work, args.profile_seconds, medium, args, profile=True)
    long = kuavo_long_bag(work, args.long, args.width, args.height)
    rows = [_convert_row(work, seconds, bag, args, profile=False)
            for seconds, bag in ((args.short, short), (args.long, long))]
    ratio = rows[1]["peak_rss"] / rows[0]["peak_rss"]
    print(f"peak RSS long/short = {ratio:.3f} (target <= {RSS_RATIO_TARGET}; reader: {args.reader}) "
          f"{'PASS' if ratio <= RSS_RATIO_TARGET else 'FAIL'}")
    return ratio <= RSS_RATIO_TARGET


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", nargs="?", choices=["index", "memory", "appends", "compact"], default="index",
                   help="compact: only the compaction part, on the datasets a kept `appends` run left in --work-dir")
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/longrec-bench"))
    p.add_argument("--keep", action="store_true", help="keep the generated bags and datasets")
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--formats", nargs="+", default=["ros1", "mcap", "sqlite3"])
    p.add_argument("--short", type=float, default=20.0)
    p.add_argument("--long", type=float, default=1800.0)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=48)
    p.add_argument("--codec", default="libsvtav1")
    p.add_argument("--reader", choices=["stream", "rosbags"], default="stream")
    p.add_argument("--profile", action="store_true", help="tracemalloc top holders of a --profile-seconds bag")
    p.add_argument("--profile-seconds", type=float, default=200.0)
    p.add_argument("--timeline", action="store_true",
                   help="memory: RSS every 50 ms of each conversion, highest per place in the main thread")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--append-seconds", type=float, default=2.0)
    p.add_argument("--noise", type=int, default=0,
                   help="appends: per-pixel camera noise (+-levels), so frames encode to a real camera's size")
    p.add_argument("--repeat", type=int, default=3, help="compaction and copy timings: median of this many")
    p.add_argument("--worker")
    p.add_argument("--result", type=Path)
    p.add_argument("--bag")
    p.add_argument("--out")
    return p.parse_args(argv)


WORKERS = {"index": work_index, "convert": work_convert, "appends": work_appends, "compact": work_compact}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        args.result.write_text(json.dumps(WORKERS[args.worker](args)))
        return 0
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    try:
        if args.what == "index":
            ok = main_index(args, work)
        elif args.what == "memory":
            ok = main_memory(args, work)
        elif args.what == "compact":
            ok = main_compact(work, work / "appends-half", work / "appends" / "bench" / "appends", args.repeat)
        else:
            ok = main_appends(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
