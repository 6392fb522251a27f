// The index page: every episode of window.VIEWER_INDEX in a sortable, filterable virtual list.
// Only the rows in view are in the page (a few dozen), so thousands of episodes scroll and sort at once.
"use strict";
(function () {
  const data = window.VIEWER_INDEX;
  const C = Object.fromEntries(data.columns.map((name, i) => [name, i]));
  const ROW = 28;
  const columns = [
    {label: "episode", key: r => r[C.episode], text: r => r[C.episode]},
    {label: "frames", key: r => r[C.length], text: r => r[C.length]},
    {label: "seconds", key: r => r[C.length], text: r => (r[C.length] / data.fps).toFixed(1)},
    {label: "task", key: r => r[C.tasks].join("; "), text: r => V.esc(r[C.tasks].join("; "))},
    {label: "score", key: r => (r[C.score] === null ? -1 : r[C.score]), text: r => V.score(r[C.score])},
    {label: "failing / reasons", key: r => r[C.failing].length * 1000 + r[C.reasons].length,
     text: r => (r[C.failing].length ? '<span class="bad">' + V.esc(r[C.failing].join("; ")) + "</span>"
                                     : V.esc(r[C.reasons].join("; ")))},
    {label: "dropped frames", key: r => V.droppedTotal(r[C.dropped]),
     text: r => { const n = V.droppedTotal(r[C.dropped]); return n ? n + ": " + V.esc(V.droppedText(r[C.dropped])) : "0"; }},
  ];
  const state = {sort: 0, up: true, view: data.episodes};
  const $ = id => document.getElementById(id);

  function summary() {
    $("title").textContent = data.name;
    document.title = data.name + " · dataset viewer";
    const q = data.quality;
    const parts = [data.total_episodes + " episodes", data.total_frames + " frames", data.fps + " fps",
                   data.cameras.length + " camera(s)", data.features.length + " plotted feature(s)"];
    if (q) {
      parts.push("mean score " + V.score(q.mean_score), "failing " + (q.failing_episodes || []).length);
      if (q.excluded_episodes) parts.push(q.excluded_episodes + " excluded (listed in meta/quality.json)");
      const dropped = V.droppedText(q.dropped);
      if (dropped) parts.push("dropped: " + dropped);
    } else {
      parts.push("no quality report (meta/quality.json absent)");
    }
    $("summary").textContent = parts.join(" · ");
    for (const [i, task] of data.tasks.entries()) {
      const option = document.createElement("option");
      option.value = task; option.textContent = task || "(task " + i + ")";
      $("task").appendChild(option);
    }
  }

  function head() {
    $("head").innerHTML = columns.map((c, i) =>
      '<div data-col="' + i + '" class="' + (i === state.sort ? "sorted" + (state.up ? " up" : "") : "") + '">' +
      c.label + "</div>").join("");
  }

  function update() {
    const failing = $("failing").checked, task = $("task").value, text = $("search").value.trim().toLowerCase();
    let rows = data.episodes.filter(r => (!failing || r[C.failing].length) && (!task || r[C.tasks].includes(task)));
    if (text) {
      rows = rows.filter(r => [r[C.episode], r[C.tasks].join(" "), r[C.failing].join(" "), r[C.reasons].join(" "),
                               V.droppedText(r[C.dropped])].join(" ").toLowerCase().includes(text));
    }
    const key = columns[state.sort].key, sign = state.up ? 1 : -1;
    rows = rows.slice().sort((a, b) => {
      const x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : a[C.episode] - b[C.episode]) * sign;
    });
    state.view = rows;
    $("count").textContent = rows.length + " of " + data.episodes.length + " episodes";
    $("spacer").style.height = rows.length * ROW + "px";
    head();
    render();
  }

  function render() {
    const scroller = $("scroller");
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - 10);
    const last = Math.min(state.view.length, first + Math.ceil(scroller.clientHeight / ROW) + 20);
    $("rows").style.top = first * ROW + "px";
    $("rows").innerHTML = state.view.slice(first, last).map(r =>
      '<div class="grid' + (r[C.failing].length ? " failing" : "") + '" data-episode="' + r[C.episode] + '">' +
      columns.map(c => "<div>" + c.text(r) + "</div>").join("") + "</div>").join("");
  }

  summary();
  $("head").addEventListener("click", e => {
    const col = e.target.closest("[data-col]");
    if (!col) return;
    const i = Number(col.dataset.col);
    state.up = i === state.sort ? !state.up : true;
    state.sort = i;
    update();
  });
  $("rows").addEventListener("click", e => {
    const row = e.target.closest("[data-episode]");
    if (row) location.href = "episode.html?e=" + row.dataset.episode;
  });
  for (const id of ["failing", "task", "search"]) $(id).addEventListener("input", update);
  $("scroller").addEventListener("scroll", () => requestAnimationFrame(render));
  window.addEventListener("resize", render);
  update();
  // what tests and scripts read: the rows in view order, and the episodes shown on screen now
  window.viewerIndex = {
    view: () => state.view.map(r => r[C.episode]),
    shown: () => [...document.querySelectorAll("#rows [data-episode]")].map(e => ({
      episode: Number(e.dataset.episode), cells: [...e.children].map(c => c.textContent)})),
    rowHeight: ROW,
  };
})();
