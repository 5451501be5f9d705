// Charts for the monitoring pages (Apache ECharts from the npm registry). Data comes from json_script tags.
// Department and county names are data: ECharts' own tooltips escape them; a custom tooltip formatter returns HTML
// and must pass every name through huanxin.escapeHtml (app.js), as site_map.js does.
(function () {
  "use strict";
  const data = (id) => { const el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; };
  const colours = { achieved: "#1f7a3f", on_track: "#0b5cad", lagging: "#b7791f", at_risk: "#c53030", no_data: "#9aa5b1" };
  const draw = (id, option) => {
    const el = document.getElementById(id);
    if (!el || !window.echarts) return;
    const chart = window.echarts.init(el);
    chart.setOption(option);
    window.addEventListener("resize", () => chart.resize());
  };

  const overview = data("overview-data");
  if (overview) {
    draw("overview-chart", {
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["40%", "70%"], label: { formatter: "{b}\n{c}" },
        data: overview.filter((o) => o.value > 0).map((o) => ({ name: o.name, value: o.value, itemStyle: { color: colours[o.status] } })) }],
    });
  }
  const reporting = data("reporting-data");
  if (reporting && reporting.length) {
    draw("reporting-chart", {
      grid: { left: 130, right: 30, top: 10, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: reporting.map((r) => r.department) },
      series: [{ type: "bar", data: reporting.map((r) => r.rate), label: { show: true, position: "right", formatter: "{c}%" } }],
    });
  }
  const path = data("path-data");
  if (path && path.actual && path.actual.length) {
    draw("path-chart", {
      tooltip: { trigger: "axis" },
      legend: { data: ["计划路径", "实际", "预测"] },
      xAxis: { type: "time" },
      yAxis: { type: "value", scale: true },
      series: [
        { name: "计划路径", type: "line", data: path.path, lineStyle: { type: "dashed" }, symbol: "none", color: "#9aa5b1" },
        { name: "实际", type: "line", data: path.actual, color: "#0b5cad",
          markLine: { symbol: "none", data: [{ xAxis: path.today, label: { formatter: "今天" } }] } },
        { name: "预测", type: "line", data: path.forecast, lineStyle: { type: "dotted" }, color: "#b7791f" },
      ],
    });
  }
  const counties = data("county-data");
  if (counties && counties.length) {
    draw("county-chart", {
      grid: { left: 110, right: 40, top: 10, bottom: 20 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: counties.map((c) => c[0]), inverse: true },
      series: [{ type: "bar", data: counties.map((c) => Number(c[1])), label: { show: true, position: "right" } }],
    });
  }
})();
