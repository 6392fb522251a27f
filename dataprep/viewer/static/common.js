// Helpers both pages share. Plain browser JavaScript, no library: the pages work from file:// and offline.
"use strict";
const V = {
  esc(text) {
    return String(text).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  },
  // Data comes as <script> files (fetch() is refused on file:// pages); resolves once the script ran.
  loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = () => resolve();
      s.onerror = () => reject(new Error("cannot load " + src));
      document.head.appendChild(s);
    });
  },
  pad6(n) { return String(n).padStart(6, "0"); },
  score(value) { return value === null || value === undefined ? "–" : Number(value).toFixed(3); },
  droppedTotal(dropped) { return Object.values(dropped || {}).reduce((a, b) => a + b, 0); },
  droppedText(dropped) {
    return Object.entries(dropped || {}).map(([reason, n]) => n + " × " + reason).join("; ");
  },
};
