// The episode page: every camera's video in sync, the plots with a cursor that follows playback, a click on a
// plot seeks, and the episode's quality report. Episode time t runs from 0 to length / fps; a camera's frame
// at t sits at from_timestamp + t inside its (possibly shared) mp4, so every video seeks to its own span.
"use strict";
(function () {
  const $ = id => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const index = Number(params.get("e") || 0);

  V.loadScript("data/episodes/ep-" + V.pad6(index) + ".js").then(() => start(window.VIEWER_EPISODE), err => {
    $("title").textContent = "Episode " + index + " not found";
    $("meta").textContent = String(err.message || err);
  });

  function start(ep) {
    const duration = ep.length / ep.fps, frame = 1 / ep.fps;
    const lastFrame = Math.max(0, (ep.length - 1) / ep.fps);
    document.title = "Episode " + ep.index + " · dataset viewer";
    $("title").textContent = "Episode " + ep.index;
    $("meta").textContent = [ep.length + " frames", duration.toFixed(2) + " s at " + ep.fps + " fps",
                             ep.tasks.join("; ") || "(no task)",
                             ep.quality ? "score " + V.score(ep.quality.score) : "no quality report"].join(" · ");
    nav("prev", ep.index - 1, ep.total); nav("next", ep.index + 1, ep.total);

    const state = {t: 0, playing: false, clockStart: 0, tStart: 0};
    const videos = ep.videos.map(spec => {
      const figure = document.createElement("figure");
      const video = document.createElement("video");
      video.muted = true; video.playsInline = true; video.preload = "auto";
      video.dataset.key = spec.key; video.dataset.from = spec.from;
      video.addEventListener("loadedmetadata", () => { video.currentTime = spec.from + state.t; }, {once: true});
      video.src = spec.src;
      const caption = document.createElement("figcaption");
      caption.textContent = spec.key + "  (" + spec.from.toFixed(3) + "–" + spec.to.toFixed(3) + " s of " +
                            spec.src.split("/").slice(-3).join("/") + ")";
      video.addEventListener("error", () => {  // e.g. a codec this browser cannot decode (HEVC in Chromium)
        caption.classList.add("bad");
        caption.textContent = spec.key + ": this browser cannot play " + spec.src + " (codec " +
                              (spec.codec || "unknown") + ")";
      });
      figure.append(video, caption);
      $("videos").appendChild(figure);
      return {video, from: spec.from};
    });
    if (!videos.length) $("videos").innerHTML = '<p class="muted">no video feature: plots only</p>';

    const plots = ep.features.map(f => new Plot($("plots"), f, ep, seek));
    if (!plots.length) $("plots").innerHTML = '<p class="muted">no numeric feature to plot</p>';

    function episodeTime() {  // the master video's time (the first camera), or a clock without video
      if (videos.length) return videos[0].video.currentTime - videos[0].from;
      return state.playing ? state.tStart + (performance.now() - state.clockStart) / 1000 : state.t;
    }

    function show(t) {
      state.t = t;
      for (const plot of plots) plot.setCursor(t);
      $("clock").textContent = t.toFixed(3) + " / " + duration.toFixed(3) + " s · frame " +
                               Math.min(ep.length - 1, Math.floor(t * ep.fps + 1e-6));
      $("scrub").value = String(Math.round((t / duration) * 1000));
    }

    function seek(t) {
      t = Math.min(lastFrame, Math.max(0, t));
      for (const v of videos) v.video.currentTime = v.from + t;
      state.tStart = t; state.clockStart = performance.now();
      show(t);
    }

    function play() {
      if (state.t >= lastFrame - 1e-6) seek(0);
      state.playing = true; state.tStart = state.t; state.clockStart = performance.now();
      for (const v of videos) v.video.play().catch(() => {});
      $("play").textContent = "pause";
    }

    function pause() {
      state.playing = false;
      for (const v of videos) v.video.pause();
      $("play").textContent = "play";
    }

    function tick() {
      if (state.playing) {
        const t = episodeTime();
        if (t >= duration - 1e-6) {  // the end of this episode's span, not of the shared mp4
          pause(); seek(lastFrame);
        } else {
          for (const v of videos.slice(1)) {  // followers: pulled back to the master when half a frame off
            if (Math.abs(v.video.currentTime - v.from - t) > frame / 2) v.video.currentTime = v.from + t;
          }
          show(t);
        }
      }
      requestAnimationFrame(tick);
    }

    $("play").addEventListener("click", () => (state.playing ? pause() : play()));
    $("scrub").addEventListener("input", () => seek((Number($("scrub").value) / 1000) * duration));
    window.addEventListener("resize", () => { for (const p of plots) p.draw(); show(state.t); });
    document.addEventListener("keydown", e => {
      if (e.key === " ") { e.preventDefault(); state.playing ? pause() : play(); }
      if (e.key === "ArrowRight") seek(state.t + frame);
      if (e.key === "ArrowLeft") seek(state.t - frame);
    });
    show(0);
    quality(ep, duration);
    dropStrip(ep, duration, seek);
    requestAnimationFrame(tick);
    // what tests and scripts read and drive
    window.viewerEpisode = {
      episode: ep, play, pause, seek,
      videoTimes: () => videos.map(v => v.video.currentTime - v.from),
      readyStates: () => videos.map(v => v.video.readyState),
      cursorTimes: () => plots.map(p => p.cursorTime()),
      clickPlot: (i, fraction) => {  // a real click event at a share of the plot's width
        const canvas = plots[i].canvas, r = canvas.getBoundingClientRect();
        const x = PAD.left + fraction * (canvas.clientWidth - PAD.left - PAD.right);
        canvas.dispatchEvent(new MouseEvent("click", {clientX: r.left + x, clientY: r.top + 40, bubbles: true}));
        return plots[i].timeAt(x);
      },
    };
  }

  // Where ticks were dropped, on the plots' time axis: a mark before the frame that followed each drop.
  function dropStrip(ep, duration, seek) {
    const drops = (ep.quality && ep.quality.drops_at) || [];
    const box = $("drops");
    if (!ep.quality) return;
    const reasons = [...new Set(drops.map(d => d[1]))];
    const color = r => COLORS[(reasons.indexOf(r) + 3) % COLORS.length];
    box.innerHTML = "<h2>Dropped ticks on the time axis</h2>" + (drops.length ? "" :
      '<p class="muted">' + (V.droppedTotal(ep.quality.dropped) ? "this quality report does not place its drops "
                             + "in time" : "no tick dropped") + "</p>");
    if (!drops.length) return;
    const strip = document.createElement("div");
    strip.className = "strip";
    for (const [frames, reason, count] of drops) {
      const mark = document.createElement("div"), t = frames / ep.fps;
      mark.className = "mark";
      mark.style.left = "calc(" + PAD.left + "px + (100% - " + (PAD.left + PAD.right) + "px) * " + t / duration + ")";
      mark.style.background = color(reason);
      mark.title = count + " × " + reason + " before frame " + frames + " (" + t.toFixed(2) + " s)";
      mark.dataset.frame = frames;
      mark.addEventListener("click", () => seek(t));
      strip.appendChild(mark);
    }
    const legend = document.createElement("div");
    legend.className = "legend";
    legend.innerHTML = reasons.map(r => '<span><i style="background:' + color(r) + '"></i>' + V.esc(r) + " (" +
      drops.filter(d => d[1] === r).reduce((a, d) => a + d[2], 0) + ")</span>").join("");
    box.append(strip, legend);
  }

  function nav(id, target, total) {
    if (target < 0 || target >= total) { $(id).style.visibility = "hidden"; return; }
    $(id).href = "episode.html?e=" + target;
  }

  function table(head, rows) {
    return '<table class="q"><tr>' + head.map(h => "<th>" + V.esc(h) + "</th>").join("") + "</tr>" +
      rows.map(r => "<tr>" + r.map(c => "<td>" + V.esc(c === null || c === undefined ? "–" : c) + "</td>").join("") +
               "</tr>").join("") + "</table>";
  }

  function quality(ep) {
    const q = ep.quality, box = $("quality");
    if (!q) {
      box.innerHTML = '<h2>Quality</h2><p class="muted">This dataset has no quality report (meta/quality.json, ' +
                      "written by the dataprep conversion).</p>";
      return;
    }
    const dropped = Object.entries(q.dropped || {});
    let html = "<h2>Quality: score " + V.score(q.score) + "</h2>";
    html += q.failing.length ? '<p class="bad">failing: ' + V.esc(q.failing.join("; ")) + "</p>"
                             : '<p class="ok">passes every threshold</p>';
    if (q.reasons.length) html += "<p>what lowered the score: " + V.esc(q.reasons.join("; ")) + "</p>";
    html += "<h2>Dropped ticks by reason</h2>" + (dropped.length
      ? table(["reason", "ticks"], dropped) + '<p class="muted">' + q.ticks + " ticks decided, " + q.frames +
        " kept as frames</p>"
      : '<p class="muted">none (' + q.ticks + " ticks, all kept)</p>");
    html += "<h2>Topics: rates and gaps</h2>" + table(
      ["topic", "messages", "rate Hz", "p95 gap s", "max gap s", "skew mean ms", "skew max ms"],
      Object.entries(q.topics || {}).map(([t, x]) => [t, x.messages, x.rate_hz, x.p95_gap_s, x.max_gap_s,
                                                       x.skew_mean_ms, x.skew_max_ms]));
    html += "<h2>Alignment offsets</h2>" + table(
      ["channel", "match rate", "mean |offset| ms", "max |offset| ms", "repeated frames"],
      Object.entries(q.channels || {}).map(([c, x]) => [c, x.match_rate, x.mean_offset_ms, x.max_offset_ms,
                                                         x.repeated]));
    box.innerHTML = html;
  }
})();
