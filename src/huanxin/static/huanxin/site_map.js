// The public site list's location chart: sites plotted by longitude and latitude, one colour per kind.
// No map tiles (no third-party service): a scatter over coordinates is enough to see where the gaps are.
(function () {
  "use strict";
  const el = document.getElementById("site-map");
  const source = document.getElementById("site-points");
  if (!el || !source || !window.echarts) return;
  const points = JSON.parse(source.textContent);
  const kinds = [...new Set(points.map((p) => p.kind))];
  const { escapeHtml } = window.huanxin;
  const chart = window.echarts.init(el);
  chart.setOption({
    // a formatter's string is HTML: the names are a recycler's own text, so they are escaped
    tooltip: { trigger: "item", formatter: (p) => `${escapeHtml(p.data.name)}<br>${escapeHtml(p.seriesName)}` },
    legend: { bottom: 0 },
    grid: { left: 50, right: 20, top: 10, bottom: 50 },
    xAxis: { type: "value", scale: true, name: "经度", axisLabel: { formatter: "{value}°" } },
    yAxis: { type: "value", scale: true, name: "纬度", axisLabel: { formatter: "{value}°" } },
    series: kinds.map((kind) => ({
      name: kind, type: "scatter", symbolSize: 9,
      data: points.filter((p) => p.kind === kind).map((p) => ({ name: p.name, value: p.value })),
    })),
  });
  window.addEventListener("resize", () => chart.resize());
})();
