// The daily P&L calendar: one grid per month (Monday first), each day coloured by sign and
// size in the chosen unit ($, R or %), with ▲/▼/● marks so sign does not rely on colour.

import { formatDecimal, signOf } from "./money.js";

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const UNIT = { usd: "USD", r: "R", pct: "%" };

function valueOf(day, mode) {
  if (mode === "usd") return day.pnl;
  if (mode === "pct") return day.return_percent;
  return day.r_return ?? day.r_units ?? null;
}

function esc(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

export function renderCalendar(container, days, mode) {
  if (!days.length) {
    container.innerHTML = '<p class="note">No closed trade in this selection: days appear here once trades close.</p>';
    return;
  }
  const byDate = new Map(days.map((d) => [d.date, d]));
  // Shading only (not a displayed figure): the largest magnitude in this mode.
  let max = 0;
  for (const d of days) {
    const v = valueOf(d, mode);
    if (v !== null && v !== undefined) max = Math.max(max, Math.abs(Number(v)));
  }
  const [fy, fm] = days[0].date.split("-").map(Number);
  const [ly, lm] = days[days.length - 1].date.split("-").map(Number);
  const parts = [];
  for (let y = fy, m = fm; y < ly || (y === ly && m <= lm); m === 12 ? (y++, m = 1) : m++) {
    const mm = String(m).padStart(2, "0");
    const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const lead = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7;
    let tradingDays = 0;
    const cells = [];
    for (let i = 0; i < lead; i++) cells.push('<div class="day pad" aria-hidden="true"></div>');
    for (let dd = 1; dd <= daysInMonth; dd++) {
      const date = `${y}-${mm}-${String(dd).padStart(2, "0")}`;
      const day = byDate.get(date);
      if (!day) {
        cells.push(`<div class="day none" role="listitem" aria-label="${date}: no closed trade"><span class="dn">${dd}</span></div>`);
        continue;
      }
      tradingDays++;
      const v = valueOf(day, mode);
      const sign = v === null || v === undefined ? 0 : signOf(v);
      const strength = v === null || v === undefined || !max ? 0 : Math.min(1, Math.abs(Number(v)) / max);
      const level = sign === 0 ? 0 : 1 + Math.round(strength * 3);
      const kind = v === null || v === undefined ? "nor" : sign > 0 ? "gain" : sign < 0 ? "loss" : "flat";
      const mark = kind === "gain" ? "▲" : kind === "loss" ? "▼" : kind === "flat" ? "●" : "";
      const missing = v === null || v === undefined;
      // no R: no trade of the day has a risk; n/a %: the day started at zero or negative equity
      const none = mode === "pct" ? "n/a" : "no R";
      const shown = missing ? none : formatDecimal(v, { signed: true });
      // in the cell, amounts of 1,000 and more drop their cents to fit (the label keeps them)
      const compact = missing ? none
        : formatDecimal(v, { signed: true, places: String(v).replace(/^[-+]/, "").split(".")[0].length >= 4 ? 0 : 2 });
      const why = missing && mode === "pct" ? " (no return: the day started at zero or negative equity)" : "";
      const label = `${date}: ${shown}${missing ? "" : ` ${UNIT[mode]}`}${why}, ${day.trades} trade${day.trades === "1" ? "" : "s"}`;
      cells.push(`<div class="day ${kind} l${level}" role="listitem" data-date="${date}" data-value="${esc(v ?? "")}" aria-label="${esc(label)}" title="${esc(label)}">
        <span class="dn">${dd}</span><span class="dv" aria-hidden="true">${mark}${esc(compact)}</span></div>`);
    }
    const totalText = tradingDays ? ` · ${tradingDays} trading day${tradingDays === 1 ? "" : "s"}` : "";
    parts.push(`<section class="month" aria-label="${MONTHS[m - 1]} ${y}">
      <h3>${MONTHS[m - 1]} ${y}<span class="sub">${totalText}</span></h3>
      <div class="grid" role="list" aria-label="${MONTHS[m - 1]} ${y}, daily P&amp;L in ${UNIT[mode]}">
        ${WEEKDAYS.map((w) => `<div class="wd" aria-hidden="true">${w}</div>`).join("")}
        ${cells.join("")}
      </div></section>`);
  }
  container.dataset.mode = mode;
  container.innerHTML = parts.join("");
}
