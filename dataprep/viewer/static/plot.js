// A line plot on a canvas: one line per element of a feature against episode time, passing through each
// bucket's min and max where the episode was thinned (so a one-frame spike keeps its height), a cursor (a positioned div, so moving it redraws nothing),
// and a click that reports the time under the mouse.
"use strict";
const COLORS = ["#1570ef", "#f79009", "#12b76a", "#d92d20", "#7a5af8", "#0e9384", "#dd2590", "#667085",
                "#b54708", "#026aa2", "#4e5ba6", "#3f621a"];
const PAD = {left: 54, right: 24, top: 18, bottom: 22};

class Plot {
  constructor(parent, feature, episode, onSeek) {
    this.feature = feature;
    this.duration = episode.length / episode.fps;
    this.step = episode.bucket / episode.fps;  // seconds per point
    this.root = document.createElement("div");
    this.root.className = "plot";
    this.root.dataset.key = feature.key;
    this.title = document.createElement("div");
    this.title.innerHTML = "<b>" + V.esc(feature.key) + "</b>" +
      (episode.bucket > 1 ? ' <span class="muted">(min–max of every ' + episode.bucket + " frames)</span>" : "");
    this.canvas = document.createElement("canvas");
    this.cursor = document.createElement("div");
    this.cursor.className = "cursor";
    this.legend = document.createElement("div");
    this.legend.className = "legend";
    this.legend.innerHTML = feature.names.map((n, i) =>
      '<span><i style="background:' + COLORS[i % COLORS.length] + '"></i>' + V.esc(n) + "</span>").join("");
    this.root.append(this.title, this.canvas, this.cursor, this.legend);
    parent.appendChild(this.root);
    this.canvas.addEventListener("click", e => onSeek(this.timeAt(e.offsetX)));
    this.range();
    this.draw();
  }

  range() {
    let lo = Infinity, hi = -Infinity;
    for (const series of [this.feature.low, this.feature.high || []]) {
      for (const values of series) for (const v of values) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    const margin = (hi - lo) * 0.05;
    this.lo = lo - margin; this.hi = hi + margin;
  }

  width() { return this.canvas.clientWidth - PAD.left - PAD.right; }
  xAt(t) { return PAD.left + (t / this.duration) * this.width(); }
  timeAt(x) { return Math.min(this.duration, Math.max(0, ((x - PAD.left) / this.width()) * this.duration)); }

  draw() {
    const dpr = window.devicePixelRatio || 1, w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    this.canvas.width = Math.round(w * dpr); this.canvas.height = Math.round(h * dpr);
    const g = this.canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    this.cursor.style.top = this.canvas.offsetTop + PAD.top + "px";
    this.cursor.style.height = h - PAD.top - PAD.bottom + "px";
    const y = v => PAD.top + (1 - (v - this.lo) / (this.hi - this.lo)) * (h - PAD.top - PAD.bottom);
    g.strokeStyle = "#e4e7ec"; g.fillStyle = "#667085"; g.font = "11px system-ui, sans-serif"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {  // value grid
      const v = this.lo + ((this.hi - this.lo) * i) / 4, py = y(v);
      g.beginPath(); g.moveTo(PAD.left, py); g.lineTo(w - PAD.right, py); g.stroke();
      g.fillText(Number(v.toPrecision(3)).toString(), 4, py + 4);
    }
    const tick = niceStep(this.duration / 8);
    for (let t = 0; t <= this.duration + 1e-9; t += tick) {  // time axis
      const px = this.xAt(t);
      g.beginPath(); g.moveTo(px, PAD.top); g.lineTo(px, h - PAD.bottom); g.stroke();
      const label = Number(t.toFixed(3)) + " s";
      g.fillText(label, Math.min(px - 8, w - g.measureText(label).width - 2), h - 6);
    }
    const {low, high} = this.feature;
    low.forEach((values, i) => {
      g.strokeStyle = COLORS[i % COLORS.length]; g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      values.forEach((v, k) => {
        if (v === null) { pen = false; return; }
        const px = this.xAt(k * this.step);
        if (pen) g.lineTo(px, y(v)); else g.moveTo(px, y(v));
        if (high) g.lineTo(px, y(high[i][k]));  // thinned: a stroke from the bucket's min to its max
        pen = true;
      });
      g.stroke();
    });
  }

  setCursor(t) {
    this.cursor.style.left = this.xAt(t) + "px";
    this.cursorAt = t;
  }

  // the time the drawn cursor stands at, read back from its position (what a person sees)
  cursorTime() { return this.timeAt(parseFloat(this.cursor.style.left)); }
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
