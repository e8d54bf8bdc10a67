// Equity and drawdown, and the live vs shadow tracking difference, as step charts
// (lightweight-charts): one point per day, the value held until the next day's close.
// Numbers are converted for plotting only; every figure shown as text is the API's string.

import { BaselineSeries, createChart, LineSeries, LineStyle, LineType } from "lightweight-charts";
import { formatDecimal } from "./money.js";

/** The charts drawn, by section ("overview", "tracking"): each redraws only its own. */
const drawn = new Map();

const BASE = {
  autoSize: true,
  layout: { background: { color: "transparent" }, textColor: "#334", attributionLogo: false, fontSize: 12 },
  grid: { vertLines: { color: "#eef0f4" }, horzLines: { color: "#eef0f4" } },
  rightPriceScale: { borderVisible: false },
  timeScale: { borderVisible: false },
  handleScroll: false,
  handleScale: false,
};

/** Remove one section's charts, or every chart without a section (at sign-out). */
export function clearCharts(section) {
  for (const name of section ? [section] : [...drawn.keys()]) {
    for (const c of drawn.get(name) || []) c.remove();
    drawn.delete(name);
  }
}

/** A chart in `el` with one step line per series ({color, title, options, data: [{time,
 * value}]}); a series of one or two points shows them as dots. Returns the chart and lines. */
function stepChart(el, series) {
  const chart = createChart(el, BASE);
  const lines = series.map((s) => {
    const line = chart.addSeries(LineSeries, {
      lineType: LineType.WithSteps, color: s.color, lineWidth: 2, priceLineVisible: false,
      pointMarkersVisible: s.data.length < 3, title: s.title || "", ...(s.options || {}),
    });
    line.setData(s.data);
    return line;
  });
  chart.timeScale().fitContent();
  return { chart, lines };
}

export function drawCharts(d) {
  clearCharts("overview");
  const curve = d.equity_curve || [];
  const eqEl = document.getElementById("equity-chart");
  const ddEl = document.getElementById("dd-chart");
  if (!curve.length) {
    eqEl.textContent = "No closed trade in this selection: the equity curve starts with the first close.";
    ddEl.textContent = "";
    document.getElementById("equity-summary").textContent = "";
    document.getElementById("dd-summary").textContent = "";
    return;
  }
  eqEl.textContent = ""; ddEl.textContent = "";
  const { chart: equity } = stepChart(eqEl, [{ color: "#1f5fbf", data: curve.map((p) => ({ time: p.date, value: Number(p.equity) })) }]);

  const dd = createChart(ddEl, BASE);
  // shaded between 0 (at the peak) and the drawdown below it
  const ddSeries = dd.addSeries(BaselineSeries, {
    lineType: LineType.WithSteps, baseValue: { type: "price", price: 0 }, lineWidth: 1, priceLineVisible: false,
    topLineColor: "#b3261e", bottomLineColor: "#b3261e", topFillColor1: "rgba(0,0,0,0)", topFillColor2: "rgba(0,0,0,0)",
    bottomFillColor1: "rgba(179,38,30,0.15)", bottomFillColor2: "rgba(179,38,30,0.4)",
    priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(2)} %` },
  });
  ddSeries.setData(curve.map((p) => ({ time: p.date, value: -Number(p.drawdown) })));
  dd.timeScale().fitContent();
  drawn.set("overview", [equity, dd]);

  const first = curve[0], last = curve[curve.length - 1];
  document.getElementById("equity-summary").textContent =
    `From ${formatDecimal(d.starting_capital)} USD at the start of the window to ${formatDecimal(last.equity)} USD on ${last.date} (${curve.length} trading days since ${first.date}).`;
  document.getElementById("dd-summary").textContent =
    `Deepest drawdown ${formatDecimal(d.max_drawdown)} % below the running peak; ${formatDecimal(last.drawdown)} % on the last day.`;
}

/**
 * The tracking difference of GET /trades/shortfall (`tracking[]`, decimal strings): per close
 * day, cumulative live minus cumulative shadow realized P&L, with a zero line; and below it
 * the two cumulative curves. The sentence under the charts quotes the API's strings.
 */
export function drawTracking(tracking, shadowSource) {
  clearCharts("tracking");
  const diffEl = document.getElementById("sf-chart");
  const cumEl = document.getElementById("sf-cum-chart");
  const summary = document.getElementById("sf-chart-summary");
  if (!tracking.length) {
    diffEl.textContent = `No closed live or ${shadowSource} trade in this selection: the tracking difference starts with the first close.`;
    cumEl.textContent = "";
    summary.textContent = "";
    return;
  }
  diffEl.textContent = ""; cumEl.textContent = "";
  const points = (key) => tracking.map((t) => ({ time: t.date, value: Number(t[key]) }));
  // the scale keeps 0 in view: how far live is from the shadow source is read against it
  const withZero = (original) => {
    const r = original();
    return r && { ...r, priceRange: { minValue: Math.min(0, r.priceRange.minValue), maxValue: Math.max(0, r.priceRange.maxValue) } };
  };
  const { chart: diff, lines: [line] } = stepChart(diffEl, [{ color: "#6b3fa0", data: points("tracking_difference"),
    options: { autoscaleInfoProvider: withZero } }]);
  line.createPriceLine({ price: 0, color: "#8a92a3", lineWidth: 1, lineStyle: LineStyle.Dashed, axisLabelVisible: false });
  const { chart: cum } = stepChart(cumEl, [
    { color: "#0b6b3a", title: "live", data: points("cumulative_live") },
    { color: "#1f5fbf", title: shadowSource, data: points("cumulative_shadow"), options: { lineStyle: LineStyle.Dashed } },
  ]);
  drawn.set("tracking", [diff, cum]);
  const last = tracking[tracking.length - 1];
  summary.textContent = `On ${last.date}, after ${tracking.length} close day${tracking.length === 1 ? "" : "s"} since ${tracking[0].date}: `
    + `cumulative live ${last.cumulative_live} USD, cumulative ${shadowSource} ${last.cumulative_shadow} USD, tracking difference ${last.tracking_difference} USD.`;
}
