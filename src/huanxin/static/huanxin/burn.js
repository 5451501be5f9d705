// A programme's daily reservations over the last 30 days (Apache ECharts from the npm registry).
(function () {
  "use strict";
  const el = document.getElementById("burn-chart");
  const source = document.getElementById("burn-data");
  if (!el || !source || !window.echarts) return;
  const rows = JSON.parse(source.textContent);
  const chart = window.echarts.init(el);
  chart.setOption({
    tooltip: { trigger: "axis" },
    grid: { left: 70, right: 20, top: 20, bottom: 40 },
    xAxis: { type: "category", data: rows.map((r) => r.day.slice(5)) },
    yAxis: { type: "value" },
    series: [{ type: "bar", name: "预留（元）", data: rows.map((r) => r.yuan) }],
  });
  window.addEventListener("resize", () => chart.resize());
})();
