// Draws the charts whose data the page embeds as JSON (amounts arrive as exact decimal strings;
// Chart.js reads them as numbers for drawing only). Ticks and tooltips are written in the page's
// language (<html lang>), in Latin digits as the server writes every number (docs/numbers-and-dates.md).
(function () {
  const palette = ["#1d5fbf", "#1f7a3a", "#a15c00", "#7a2eb8", "#b42318", "#0e7490"];
  const lang = document.documentElement.lang || "en";
  const locale = lang + "-u-nu-latn";
  const common = { responsive: true, maintainAspectRatio: false, animation: false, locale };
  const monthNames = new Intl.DateTimeFormat(locale, { year: "numeric", month: "short", timeZone: "UTC" });
  // "2026-03" → "Mar 2026", "мар. 2026 г.", "মার্চ 2026".
  const month = (label) => (/^\d{4}-\d{2}$/.test(label) ? monthNames.format(new Date(label + "-01T00:00:00Z")) : label);
  // Numeric dates as the server writes them: ISO in English (3/9 is a different day in the US and the UK).
  const stamps = new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short", timeZone: "UTC" });
  const stamp = (v) =>
    lang === "en" ? new Date(v).toISOString().slice(0, 16).replace("T", " ") : stamps.format(new Date(v));

  function dashboard() {
    const node = document.getElementById("dashboard-data");
    if (!node) return;
    const data = JSON.parse(node.textContent);
    const colour = (ds, i) => Object.assign(ds, { backgroundColor: palette[i % palette.length] });
    new Chart(document.getElementById("chart-pipeline"), {
      type: "bar",
      data: { labels: data.pipeline.labels, datasets: data.pipeline.datasets.map(colour) },
      options: common,  // grouped, never stacked: amounts in different currencies do not add up
    });
    new Chart(document.getElementById("chart-forecast"), {
      type: "bar",
      data: { labels: data.forecast.labels.map(month), datasets: data.forecast.datasets.map(colour) },
      options: common,  // grouped, never stacked: amounts in different currencies do not add up
    });
    new Chart(document.getElementById("chart-won-lost"), {
      type: "bar",
      data: {
        labels: data.won_lost.labels.map(month),
        datasets: [
          { label: "won", data: data.won_lost.won, backgroundColor: "#1f7a3a" },
          { label: "lost", data: data.won_lost.lost, backgroundColor: "#b42318" },
        ],
      },
      options: Object.assign({ scales: { y: { ticks: { precision: 0 } } } }, common),
    });
    loop(data);
  }

  function loop(data) {
    new Chart(document.getElementById("chart-loop"), {
      type: "line",
      data: {
        labels: data.loop.labels.map(month),
        datasets: [
          { label: "won → invoice (h)", data: data.loop.to_invoice, borderColor: "#1d5fbf", backgroundColor: "#1d5fbf", spanGaps: true },
          { label: "invoice → paid (h)", data: data.loop.to_paid, borderColor: "#1f7a3a", backgroundColor: "#1f7a3a", spanGaps: true },
        ],
      },
      options: Object.assign({ scales: { y: { beginAtZero: true } } }, common),
    });
  }

  function history() {
    const node = document.getElementById("history-data");
    const canvas = document.getElementById("history-chart");
    if (!node || !canvas) return;
    const data = JSON.parse(node.textContent);
    const now = Date.now();
    // A level holds until the next pull changes it: each line is drawn on to now.
    const datasets = Object.entries(data.series).map(([name, points], i) => {
      const line = points.map((p) => ({ x: Date.parse(p.x), y: p.y }));
      if (line.length) line.push({ x: Math.max(now, line[line.length - 1].x), y: line[line.length - 1].y });
      return { label: name, data: line, stepped: true,
        borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length] };
    });
    if (data.reorder_point !== null && datasets.length) {
      const xs = datasets.flatMap((d) => d.data.map((p) => p.x));
      datasets.push({ label: "reorder point", borderDash: [6, 4], borderColor: "#b42318", pointRadius: 0,
        data: [{ x: Math.min(...xs), y: data.reorder_point }, { x: Math.max(...xs), y: data.reorder_point }] });
    }
    new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: Object.assign({
        scales: { y: { beginAtZero: true }, x: { type: "linear", ticks: { callback: stamp } } },
      }, common),
    });
  }

  dashboard();
  history();
})();
