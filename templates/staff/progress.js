// Live progress of a broadcast (server-sent events). Without JavaScript
// the page reloads itself every five seconds instead.
"use strict";
// Manual channels: a button that copies the text to paste.
for (const area of document.querySelectorAll("textarea[data-copy]")) {
  if (!navigator.clipboard) break;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = area.dataset.copy;
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(area.value).then(() => {
      button.textContent = area.dataset.copied;
    });
  });
  area.after(button);
}
(function () {
  const table = document.getElementById("progress");
  if (!table || table.dataset.finished === "true") return;
  if (!table || !window.EventSource) return;
  const status = document.getElementById("progress-status");
  const noscriptRefresh = document.querySelector("meta[http-equiv=refresh]");
  if (noscriptRefresh) noscriptRefresh.remove();
  const eta = (s) => {
    if (s === null || s === undefined) return "–";
    if (s < 60) return table.dataset.etaSeconds.replace("{n}", Math.max(1, s));
    return table.dataset.etaMinutes.replace("{n}", Math.ceil(s / 60));
  };
  const source = new EventSource(table.dataset.events);
  source.onmessage = (e) => {
    const p = JSON.parse(e.data);
    for (const c of p.channels) {
      const row = table.querySelector('tr[data-channel="' + c.channel + '"]');
      if (!row) continue;
      const set = (k, v) => {
        const cell = row.querySelector('[data-k="' + k + '"]');
        if (cell) cell.textContent = String(v);
      };
      set("queued", c.queued + c.sending);
      for (const k of ["sent", "delivered", "read", "failed", "total", "percent"]) set(k, c[k]);
      set("eta", eta(c.eta_seconds));
      const label = table.dataset["state" + c.state.charAt(0).toUpperCase() + c.state.slice(1)];
      if (label) set("state", label);
      if (c.state === "done" || c.state === "cancelled") {
        for (const f of row.querySelectorAll("form")) f.remove();
      }
      const bar = row.querySelector('[data-k="bar"]');
      if (bar) bar.value = c.percent;
    }
    if (p.finished) {
      source.close();
      status.textContent = status.dataset.finished;
      const bulk = document.getElementById("bulk-controls");
      if (bulk) bulk.remove();
    }
  };
  source.addEventListener("failed", () => source.close());
})();
