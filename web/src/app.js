// The Strategy Service dashboard: Firebase Auth sign-in, the API's figures as cards, step
// charts, a daily P&L calendar, breakdowns, live open trades, history, CSV export, settings.
// Money is never computed with floats: the API's numbers are kept as their JSON source text
// (JSON.parse's `context.source`) and the open trades' unrealized P&L uses money.js (BigInt).

import { initializeApp } from "firebase/app";
import {
  connectAuthEmulator, createUserWithEmailAndPassword, getAuth, GoogleAuthProvider,
  onAuthStateChanged, signInWithEmailAndPassword, signInWithPopup, signOut,
} from "firebase/auth";
import { clearCharts, drawCharts, drawTracking } from "./charts.js";
import { renderCalendar } from "./calendar.js";
import { centsToString, formatDecimal, signOf, sumCents, toCents, trimDecimal, unrealizedCents } from "./money.js";

const $ = (sel) => document.querySelector(sel);
const FILTERS = ["start_date", "end_date", "source", "strategy_id", "symbol"];
const state = {
  config: null, auth: null, user: null, dashboard: null, open: [], quotes: new Map(),
  unsubscribers: new Map(), history: [], historyCursor: null, historySort: "desc",
  calMode: "usd", signInStartedAt: null, knownStrategies: new Set(), knownSymbols: new Set(),
  firestore: null, generation: 0, sf: { items: [], cursor: null, query: "" },
};
window.__dashboard = { timings: [] };

// ------------------------------------------------------------------------------ the API
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Parse JSON keeping every number as its exact source text (a decimal string). */
export function parseExact(text) {
  return JSON.parse(text, (key, value, context) =>
    typeof value === "number" ? (context && context.source) || String(value) : value);
}

async function api(path, { method = "GET", body } = {}) {
  const user = state.auth.currentUser;
  if (!user) throw new ApiError(401, "unauthenticated", "You are signed out.");
  const token = await user.getIdToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    throw new ApiError(0, "network", "The service did not answer: check that it is running (scripts/serve), then retry.");
  }
  const text = await response.text();
  let data = null;
  try { data = text ? parseExact(text) : null; } catch { /* not JSON */ }
  if (!response.ok) {
    const err = data && data.error;
    const message = err ? err.message : `The service answered ${response.status}.`;
    if (response.status === 401) {
      await signOutWith("Your session has expired or was refused; please sign in again.");
    }
    throw new ApiError(response.status, err ? err.code : "http_error", message);
  }
  return data;
}

// ------------------------------------------------------------------------------ sign-in
const AUTH_MESSAGES = {
  "auth/invalid-credential": "Wrong email or password.",
  "auth/wrong-password": "Wrong email or password.",
  "auth/user-not-found": "No account with this email: create one with “Create account”.",
  "auth/email-already-in-use": "An account with this email exists already: sign in instead.",
  "auth/weak-password": "Choose a password of at least 6 characters.",
  "auth/invalid-email": "Enter a valid email address.",
  "auth/missing-password": "Enter your password.",
  "auth/too-many-requests": "Too many attempts; wait a minute and try again.",
  "auth/network-request-failed": "The sign-in service did not answer. Locally, scripts/serve starts the Firebase Auth emulator; check it is running.",
  "auth/popup-closed-by-user": "The Google sign-in window was closed before finishing.",
};

function authMessage(err) {
  return AUTH_MESSAGES[err.code] || `Sign-in failed: ${err.message}`;
}

async function signOutWith(note) {
  $("#signin-note").textContent = note || "";
  await signOut(state.auth);
}

function wireSignIn() {
  const form = $("#signin-form");
  const errorBox = $("#signin-error");
  const run = async (action) => {
    errorBox.textContent = "";
    const email = $("#email").value.trim();
    const password = $("#password").value;
    if (!email || !password) {
      errorBox.textContent = !email ? "Enter your email address." : "Enter your password.";
      return;
    }
    state.signInStartedAt = performance.now();
    form.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await action(state.auth, email, password);
      $("#signin-note").textContent = "";
    } catch (err) {
      errorBox.textContent = authMessage(err);
      state.signInStartedAt = null;
    } finally {
      form.querySelectorAll("button").forEach((b) => (b.disabled = false));
    }
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); run(signInWithEmailAndPassword); });
  $("#sign-up").addEventListener("click", () => run(createUserWithEmailAndPassword));
  if (state.config.google_sign_in) {
    const google = $("#google");
    google.hidden = false;
    google.addEventListener("click", () => run((auth) => signInWithPopup(auth, new GoogleAuthProvider())));
  }
  $("#sign-out").addEventListener("click", () => signOutWith("You are signed out."));
}

function showSignedOut() {
  state.generation += 1;
  state.user = null;
  stopLiveQuotes();
  clearCharts();
  state.dashboard = null; state.open = []; state.history = []; state.historyCursor = null;
  // another user may sign in next: forget this one's strategies, symbols and notices
  state.knownStrategies.clear(); state.knownSymbols.clear();
  $("#strategies").innerHTML = ""; $("#symbols").innerHTML = "";
  fillStrategyChoices();
  for (const id of ["#settings-result", "#strategy-settings-result", "#equity-base"]) $(id).textContent = "";
  $("#ss-capital").value = "";
  $("#rebuild").hidden = true;
  clearShortfall();
  for (const id of ["#cards", "#calendar", "#by-strategy", "#by-symbol", "#by-source", "#open-trades", "#history"]) {
    const el = $(id);
    clearTable(el);
  }
  $("#main").hidden = true;
  $("#who").hidden = true;
  $("#signin").hidden = false;
  $("#password").value = "";
  document.body.dataset.state = "signed-out";
}

async function showSignedIn(user) {
  state.user = user;
  if (state.signInStartedAt !== null) state.signedInAt = performance.now();
  $("#signin").hidden = true;
  $("#who").hidden = false;
  $("#user-email").textContent = user.email || user.uid;
  $("#main").hidden = false;
  document.body.dataset.state = "loading";
  readFiltersFromUrl();
  const generation = ++state.generation;
  const settings = api("/users/me/settings").then(fillSettings).catch(showError);
  await Promise.all([loadDashboard(generation), loadOpenTrades(generation), loadHistory(true, generation), settings]);
}

// ------------------------------------------------------------------------------ filters
function currentFilters() {
  const params = new URLSearchParams(location.search);
  const out = new URLSearchParams();
  for (const name of FILTERS) {
    const v = (params.get(name) || "").trim();
    if (v) out.set(name, name === "symbol" ? v.toUpperCase() : v);
  }
  return out;
}

function readFiltersFromUrl() {
  const params = currentFilters();
  const form = $("#filters");
  for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
}

function wireFilters() {
  const form = $("#filters");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const v = form.elements[name].value.trim();
      if (v) params.set(name, name === "symbol" ? v.toUpperCase() : v);
    }
    const qs = params.toString();
    history.pushState(null, "", qs ? `?${qs}` : location.pathname);
    refreshAll();
  });
  $("#f-reset").addEventListener("click", () => {
    for (const name of FILTERS) form.elements[name].value = "";
    history.pushState(null, "", location.pathname);
    refreshAll();
  });
  window.addEventListener("popstate", () => { readFiltersFromUrl(); refreshAll(); });
}

function refreshAll() {
  if (!state.user) return;
  const generation = state.generation;
  loadDashboard(generation);
  renderOpenTrades();
  renderHistory();
}

function matchesFilters(trade) {
  const f = currentFilters();
  if (f.get("source") && (trade.source || "paper") !== f.get("source")) return false;
  if (f.get("strategy_id") && trade.strategy_id !== f.get("strategy_id")) return false;
  if (f.get("symbol") && trade.symbol !== f.get("symbol")) return false;
  return true;
}

/** Empty a table but its caption. */
function clearTable(table) {
  table.querySelectorAll(":scope > :not(caption)").forEach((n) => n.remove());
}

// ------------------------------------------------------------------------------ status
/** A banner (`#status`, or `box`): the message, its kind's colour, a Retry button when given. */
function showStatus(message, kind = "info", retry = null, box = $("#status")) {
  box.className = `banner ${kind}`;
  box.textContent = message;
  if (retry) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Retry";
    b.addEventListener("click", retry);
    box.append(" ", b);
  }
  box.hidden = !message;
}

function showError(err) {
  if (err && err.status === 401) return;
  showStatus(`${err.message}`, "error", () => { showStatus(""); refreshAll(); });
}

// ------------------------------------------------------------------------------ cards
const CARDS = [
  { key: "total_pnl", label: "Total P&L (net)", unit: "USD", signed: true,
    formula: "Sum of the realized P&L in the filter, net of commissions (gross P&L − commission); a partial close counts on its own day.",
    conv: ["pnl_basis", "partial_closes", "day", "rounding"] },
  { key: "gross_pnl", label: "Gross P&L", unit: "USD", signed: true,
    formula: "Realized P&L before commissions: price moves only (fill prices include slippage).", conv: ["pnl_basis"] },
  { key: "total_commission", label: "Commission", unit: "USD",
    formula: "Commissions of the entry and exit fills, by each strategy's cost model (or a backtest's own).",
    conv: ["pnl_basis"] },
  { key: "total_slippage", label: "Slippage", unit: "USD",
    formula: "|fill price − quote or bar price| × quantity over the fills; already inside gross P&L, shown, not subtracted again.",
    conv: ["pnl_basis"] },
  { key: "win_rate_trades", label: "Win rate (trades)", unit: "%",
    formula: "Winning trades / all trades × 100 (break-even trades count as trades).", conv: ["win_definition"] },
  { key: "win_rate_days", label: "Win rate (days)", unit: "%",
    formula: "Days with P&L > 0 / trading days × 100.", conv: ["day", "time_zone"] },
  { key: "profit_factor", label: "Profit factor", unit: "ratio",
    formula: "Sum of wins / |sum of losses|; ∞ when there is no loss, — when there is no trade.", conv: ["win_definition"] },
  { key: "avg_win", label: "Average win", unit: "USD",
    formula: "Sum of wins / number of winning trades.", conv: ["win_definition"] },
  { key: "avg_loss", label: "Average loss", unit: "USD", lossMagnitude: true,
    formula: "|Sum of losses| / number of losing trades (a size, shown positive).", conv: ["win_definition"] },
  { key: "total_return", label: "Total return", unit: "%", signed: true,
    formula: "(Final equity − equity at the window's start) / equity at the window's start × 100.",
    conv: ["equity_base", "window"] },
  { key: "cagr", label: "CAGR", unit: "% / year", signed: true, annualised: true,
    formula: "((final equity / equity at the window's start)^(1 / years) − 1) × 100; years = window days / 365.25; n/a below 365 days.",
    conv: ["cagr", "equity_base", "window", "cagr_days_per_year"] },
  { key: "max_drawdown", label: "Max drawdown", unit: "% from peak", lossMagnitude: true,
    formula: "Largest (peak − equity) / peak × 100 over the daily equity curve, the window's starting equity included.",
    conv: ["drawdown", "equity_base", "day"] },
  { key: "sharpe_ratio", label: "Sharpe ratio", unit: "ratio, annualised",
    formula: "mean(daily return) / std(daily return) × √(annualisation factor); — below 2 returns or with no variation.",
    conv: ["daily_returns", "std_kind", "annualisation_factor", "calendar", "return_days", "days_without_return_note", "risk_free_rate"] },
  { key: "sortino_ratio", label: "Sortino ratio", unit: "ratio, annualised",
    formula: "mean(r) / √mean(min(r, 0)²) × √(annualisation factor) (target 0); — below 2 returns or without a losing day.",
    conv: ["daily_returns", "annualisation_factor", "calendar", "return_days", "days_without_return_note", "risk_free_rate"] },
  { key: "volatility", label: "Volatility (annualised)", unit: "%",
    formula: "std(daily return) × √(annualisation factor) × 100; — below 2 returns.",
    conv: ["std_kind", "annualisation_factor", "calendar", "return_days", "days_without_return_note", "daily_returns"] },
  { key: "calmar_ratio", label: "Calmar ratio", unit: "ratio", annualised: true,
    formula: "CAGR / max drawdown; n/a when CAGR is (window below 365 days), — without a drawdown.",
    conv: ["cagr", "drawdown", "window"] },
  { key: "expectancy", label: "Expectancy", unit: "USD / trade", signed: true,
    formula: "Sum of the closed positions' net P&L / number of trades; — when there is no trade.",
    conv: ["win_definition", "partial_closes"] },
];

/** A conventions value in words (the window is an object; numbers arrive as strings). */
function convText(key, value) {
  if (key === "window" && value && typeof value === "object") {
    return value.first_day ? `${value.first_day} to ${value.last_day}, ${value.days} days` : "no window (no trade)";
  }
  if (key === "annualisation_factor") return `√${value} (sessions per year of the calendar)`;
  if (key === "return_days") return `${value} daily returns in the window`;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** Why an annualised figure is null (conventions.cagr: "null: the window is 40 days, shorter
 * than 365; ..."), as "n/a: the window is ...", or null when it is not that case. */
function annualisedWhy(d, conv) {
  if (d.cagr !== null && d.cagr !== undefined) return null;
  if (!conv.cagr) return null;
  return `n/a: ${String(conv.cagr).replace(/^null:\s*/, "")}`;
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function signMark(sign) {
  return sign > 0 ? '<span class="mark gain" aria-hidden="true">▲</span>'
    : sign < 0 ? '<span class="mark loss" aria-hidden="true">▼</span>' : "";
}

/** One figure card: its label, value (`raw` the API's string in data-raw), unit, and a **?**
 * button opening `tip` (HTML). */
function cardHtml({ c, raw, shown, cls, spoken, mark = "", tipId, tip }) {
  return `<article class="card ${cls}" data-metric="${c.key}">
      <h3>${esc(c.label)}</h3>
      <p class="value"><span class="num" data-raw="${esc(raw ?? "")}" aria-label="${esc(spoken)}">${mark}${esc(shown)}</span>
        <span class="unit">${esc(c.unit)}</span></p>
      <button type="button" class="info" aria-label="How ${esc(c.label)} is computed" aria-describedby="${tipId}" aria-expanded="false">?</button>
      <div class="tip" id="${tipId}" role="tooltip">${tip}</div>
    </article>`;
}

/** Put cards into their box; a **?** opens its tip and closes the box's others. */
function showCards(box, html) {
  box.innerHTML = html;
  box.setAttribute("aria-busy", "false");
  box.querySelectorAll(".info").forEach((b) => b.addEventListener("click", () => {
    const open = b.getAttribute("aria-expanded") !== "true";
    box.querySelectorAll(".info").forEach((o) => o.setAttribute("aria-expanded", "false"));
    b.setAttribute("aria-expanded", String(open));
  }));
}

function renderCards(d) {
  const conv = d.conventions || {};
  const why = annualisedWhy(d, conv);
  const html = CARDS.map((c) => {
    let raw = d[c.key];
    let shown;
    let reason = "";
    if (c.key === "profit_factor" && d.profit_factor_infinite === true) {
      shown = "∞"; raw = "infinite";
    } else if (c.annualised && (raw === null || raw === undefined) && why) {
      shown = "n/a"; reason = why;
    } else {
      shown = formatDecimal(raw, { signed: c.signed });
    }
    const sign = c.signed ? signOf(raw === "infinite" ? null : raw) : 0;
    const convLines = c.conv.filter((k) => conv[k] !== undefined && conv[k] !== null)
      .map((k) => `<li><b>${esc(k.replace(/_/g, " "))}</b>: ${esc(convText(k, conv[k]))}</li>`).join("");
    const spoken = shown === "—" || shown === "n/a" ? "not available" : shown.replace("−", "minus ");
    return cardHtml({
      c, raw, shown, tipId: `tip-${c.key}`, cls: `${sign > 0 ? "gain" : sign < 0 ? "loss" : ""}${reason ? " na" : ""}`,
      spoken: `${c.label}: ${spoken}${shown === "n/a" ? "" : ` ${c.unit}`}`, mark: signMark(sign),
      tip: `${reason ? `<p class="why">${esc(reason)}</p>` : ""}<p>${esc(c.formula)}</p><ul>${convLines}<li><b>rounding</b>: ${esc(conv.rounding || "")}</li></ul>`,
    });
  }).join("");
  showCards($("#cards"), html);
  const tz = conv.time_zone ? ` · days in ${conv.time_zone}` : "";
  const cal = conv.calendar ? ` · ${conv.calendar} calendar` : "";
  $("#range").textContent = d.start_date
    ? `${d.start_date} to ${d.end_date} · ${d.total_trades} trades on ${d.trading_days} days${tz}${cal}`
    : `no closed trade in this selection${tz}${cal}`;
  const base = $("#equity-base");
  base.textContent = conv.equity_base ? `Equity base: ${conv.equity_base}.` : "";
  base.hidden = !conv.equity_base;
  renderRebuild(conv);
}

/** conventions.rebuild is there only while the aggregates are rebuilt for a new time zone. */
function renderRebuild(conv) {
  const box = $("#rebuild");
  if (!conv.rebuild) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = `Figures are being rebuilt for a new time zone; until then days are in ${conv.time_zone || "the previous time zone"} (${conv.rebuild}). `;
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Check again";
  b.addEventListener("click", () => loadDashboard(state.generation));
  box.append(b);
  box.hidden = false;
}

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") document.querySelectorAll('.info[aria-expanded="true"]').forEach((b) => b.setAttribute("aria-expanded", "false"));
});

// ------------------------------------------------------------------------------ dashboard
async function loadDashboard(generation) {
  const filters = currentFilters();
  $("#cards").setAttribute("aria-busy", "true");
  document.body.dataset.state = "loading";
  try {
    const d = await api(`/trades/shadow/dashboard${filters.toString() ? `?${filters}` : ""}`);
    if (generation !== state.generation || filters.toString() !== currentFilters().toString()) return;
    const fetchedAt = performance.now();
    state.dashboard = d;
    showStatus("");
    renderCards(d);
    drawCharts(d);
    renderCalendar($("#calendar"), d.daily_pnl || [], state.calMode);
    updateModeNote();
    renderBreakdowns(d);
    updateEmptyState();
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    if (generation !== state.generation) return;
    document.body.dataset.state = "ready";
    document.body.dataset.filters = filters.toString();
    if (state.signInStartedAt !== null) {
      const now = performance.now();
      window.__dashboard.timings.push({
        signInToDrawnMs: now - state.signInStartedAt, trades: d.total_trades,
        authMs: state.signedInAt - state.signInStartedAt, dashboardApiMs: fetchedAt - state.signedInAt,
        drawMs: now - fetchedAt,
      });
      state.signInStartedAt = null;
    }
    loadShortfall(generation);  // after the overview is drawn: its tracking reads two more dashboards
  } catch (err) {
    if (generation !== state.generation) return;
    document.body.dataset.state = "error";
    $("#cards").setAttribute("aria-busy", "false");
    if (err.code === "invalid_date_range") showStatus("The “From” date is after the “To” date: change one of them.", "error");
    else showError(err);
  }
}

function breakdownTable(el, rows, key, label) {
  const body = rows.length ? rows.map((r) => {
    const sign = signOf(r.total_pnl);
    const pf = r.profit_factor_infinite === true ? "∞" : formatDecimal(r.profit_factor);
    return `<tr><th scope="row">${esc(r[key])}</th><td>${esc(r.trades)}</td><td>${esc(r.wins)} / ${esc(r.losses)} / ${esc(r.break_even)}</td>
      <td>${formatDecimal(r.win_rate)} %</td><td class="${sign > 0 ? "gain" : sign < 0 ? "loss" : ""}">${signMark(sign)}${formatDecimal(r.total_pnl, { signed: true })}</td><td>${pf}</td></tr>`;
  }).join("") : `<tr><td colspan="6">No closed trade in this selection.</td></tr>`;
  clearTable(el);
  el.insertAdjacentHTML("beforeend", `<thead><tr><th scope="col">${label}</th><th scope="col">Trades</th><th scope="col">W / L / BE</th>
    <th scope="col">Win rate</th><th scope="col">P&amp;L (USD)</th><th scope="col">Profit factor</th></tr></thead><tbody>${body}</tbody>`);
}

function renderBreakdowns(d) {
  breakdownTable($("#by-strategy"), d.by_strategy || [], "strategy_id", "Strategy");
  breakdownTable($("#by-symbol"), d.by_symbol || [], "symbol", "Symbol");
  breakdownTable($("#by-source"), d.by_source || [], "source", "Source");
  for (const r of d.by_strategy || []) state.knownStrategies.add(r.strategy_id);
  for (const r of d.by_symbol || []) state.knownSymbols.add(r.symbol);
  $("#strategies").innerHTML = [...state.knownStrategies].sort().map((s) => `<option value="${esc(s)}">`).join("");
  $("#symbols").innerHTML = [...state.knownSymbols].sort().map((s) => `<option value="${esc(s)}">`).join("");
  fillStrategyChoices();
}

function updateEmptyState() {
  const noTrades = state.dashboard && state.dashboard.total_trades === "0" && state.open.length === 0
    && state.history.length === 0 && !currentFilters().toString();
  $("#empty").hidden = !noTrades;
  if (noTrades) {
    const s = location.origin;
    $("#empty-curl").textContent = [
      `export FIRESTORE_EMULATOR_HOST=${state.config.firestore_emulator_host || "HOST:PORT"} FIREBASE_AUTH_EMULATOR_HOST=${state.config.auth_emulator_url ? state.config.auth_emulator_url.replace("http://", "") : "HOST:PORT"}`,
      `export GOOGLE_CLOUD_PROJECT=${state.config.project_id}`,
      `PUB=$(.venv/bin/strategy-service token ops --publisher)   # may publish quotes`,
      `TOKEN=$(.venv/bin/strategy-service token ${state.user.uid})   # you, as signed in here (or “Copy my ID token”)`,
      `curl -s -X PUT ${s}/quotes/AAPL -H "Authorization: Bearer $PUB" -H 'Content-Type: application/json' -d '{"bid":"187.20","ask":"187.25"}'`,
      `curl -s -X POST ${s}/trades/execute -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
      `     -d '{"symbol":"AAPL","side":"BUY","quantity":10,"strategy_id":"ma-cross"}'`,
    ].join("\n");
  }
}

function updateModeNote() {
  const d = state.dashboard;
  const note = $("#cal-mode-note");
  if (state.calMode === "r" && d && (d.daily_pnl || []).every((x) => x.r_return === null && x.r_units === null)) {
    note.textContent = "No trade here has a risk: send stop_loss or risk_amount with POST /trades/execute to see R.";
  } else if (state.calMode === "r") {
    note.textContent = "R: the sum of the day's R-multiples (P&L / risk per trade).";
  } else if (state.calMode === "pct") {
    const n = Number((d && d.conventions && d.conventions.days_without_return) || 0);
    note.textContent = "%: the day's P&L / equity at the start of the day. n/a: the day started at zero or negative equity, so it has no return (not 0)"
      + (n ? `; ${n} such day${n === 1 ? "" : "s"} in this window, left out of Sharpe, Sortino and volatility.` : ".");
  } else note.textContent = "$: the day's realized P&L in USD.";
}

function wireCalendar() {
  document.querySelectorAll('input[name="cal-mode"]').forEach((r) => r.addEventListener("change", () => {
    state.calMode = r.value;
    if (state.dashboard) renderCalendar($("#calendar"), state.dashboard.daily_pnl || [], state.calMode);
    updateModeNote();
  }));
  $("#export-daily").addEventListener("click", () => {
    const rows = (state.dashboard && state.dashboard.daily_pnl) || [];
    download(`daily-pnl${fileSuffix()}.csv`, toCsv(["date", "pnl", "trades", "return_percent", "r_return", "r_units"], rows));
  });
}

// ------------------------------------------------------------------------------ live vs shadow
// GET /trades/shortfall with the page's filters (but its Source: the endpoint compares live
// with `shadow_source`, chosen in the section). Every figure is shown as the API's string.
const SF_CARDS = [
  { key: "signals", label: "Signals", unit: "with a shadow fill",
    formula: "Signals of the selection with a shadow (paper or backtest) fill.", conv: ["window"] },
  { key: "linked", label: "Linked", unit: "filled live too",
    formula: "Of those, the signals also filled live (same strategy_id and signal_id).", conv: ["window"] },
  { key: "filled_live_percent", label: "Filled live", unit: "%",
    formula: "Linked / signals × 100.", conv: ["filled_live_percent"] },
  { key: "live_only", label: "Live only", unit: "no shadow fill yet",
    formula: "Signals filled live without a shadow fill (yet): no decision price, so no figure.", conv: ["window"] },
  { key: "mean_bps", label: "Mean shortfall", unit: "bps", worse: true,
    formula: "Mean of the linked signals' shortfall, live against shadow.", conv: ["shortfall_bps", "sign"] },
  { key: "median_bps", label: "Median shortfall", unit: "bps", worse: true,
    formula: "Median of the linked signals' shortfall.", conv: ["median_bps", "shortfall_bps", "sign"] },
  { key: "total_usd", label: "Total shortfall", unit: "USD", worse: true,
    formula: "Sum of the linked signals' shortfall in USD.", conv: ["shortfall_usd", "sign"] },
  { key: "shadow_commission", label: "Shadow commissions", unit: "USD",
    formula: "Commissions of the shadow fills of the selection's signals, summed.", conv: [] },
  { key: "live_commission", label: "Live commissions", unit: "USD",
    formula: "The broker's commissions of the live fills of the selection's signals, summed.", conv: [] },
];

/** The shortfall query of the page's filters and the section's shadow source. */
function shortfallQuery() {
  const q = currentFilters();
  q.delete("source");
  q.set("shadow_source", $("#sf-source").value);
  return q;
}

/** Class of a shortfall figure: positive is worse for the trader, negative better. */
function worseClass(text) {
  const sign = text === null || text === undefined ? 0 : signOf(text);
  return sign > 0 ? "loss" : sign < 0 ? "gain" : "";
}

function renderShortfallCards(d) {
  const conv = d.conventions || {};
  const html = SF_CARDS.map((c) => {
    const raw = d.summary[c.key];
    const shown = raw === null || raw === undefined ? "—" : String(raw);
    const side = c.worse && shown !== "—" ? { loss: ", worse for the trader", gain: ", better for the trader" }[worseClass(raw)] || "" : "";
    const convLines = c.conv.filter((k) => conv[k]).map((k) => `<li><b>${esc(k.replace(/_/g, " "))}</b>: ${esc(conv[k])}</li>`).join("");
    return cardHtml({
      c, raw, shown, tipId: `sf-tip-${c.key}`, cls: c.worse ? worseClass(raw) : "",
      spoken: `${c.label}: ${shown === "—" ? "not available" : `${shown} ${c.unit}${side}`}`,
      tip: `<p>${esc(c.formula)}</p>${convLines ? `<ul>${convLines}</ul>` : ""}`,
    });
  }).join("");
  showCards($("#sf-cards"), html);
  const sign = conv.sign ? conv.sign.charAt(0).toUpperCase() + conv.sign.slice(1) : "";
  $("#sf-sign").textContent = sign ? `Sign convention: ${sign}. A negative shortfall means live did better than the shadow fill.` : "";
}

function sfCell(text, cls = "") {
  return text === null || text === undefined ? `<td class="num ${cls}">—</td>`
    : `<td class="num ${cls}" data-raw="${esc(text)}">${esc(text)}</td>`;
}

function renderShortfallItems() {
  const table = $("#sf-items");
  clearTable(table);
  const { items, cursor } = state.sf;
  const body = items.length ? items.map((r) => {
    const sh = r.shadow || {}, lv = r.live || {};
    const status = r.linked ? "linked" : r.shadow ? "shadow only" : "live only";
    return `<tr data-id="${esc(r.id)}" data-signal="${esc(r.signal_id)}"><th scope="row">${esc(r.signal_id)}</th>
      <td>${esc(r.strategy_id)}</td><td>${esc(r.symbol)}</td><td>${esc(r.side)}</td><td>${esc(status)}</td>
      <td>${esc(shortTime(r.decided_at))}</td>${sfCell(r.decision_price, "decision")}
      ${sfCell(sh.price, "shadow-price")}${sfCell(sh.slippage_bps, `shadow-bps ${worseClass(sh.slippage_bps)}`)}
      ${sfCell(lv.price, "live-price")}${sfCell(lv.slippage_bps, `live-bps ${worseClass(lv.slippage_bps)}`)}
      ${sfCell(r.shortfall_bps, `shortfall-bps ${worseClass(r.shortfall_bps)}`)}${sfCell(r.shortfall_usd, `shortfall-usd ${worseClass(r.shortfall_usd)}`)}
      <td class="num latency">${esc(sh.latency_ms ?? "—")} / ${esc(lv.latency_ms ?? "—")}</td></tr>`;
  }).join("") : `<tr><td colspan="14">No signal in this selection.</td></tr>`;
  table.insertAdjacentHTML("beforeend", `<thead><tr><th scope="col">Signal</th><th scope="col">Strategy</th><th scope="col">Symbol</th>
    <th scope="col">Side</th><th scope="col">Status</th><th scope="col">Decided (UTC)</th><th scope="col">Decision price</th>
    <th scope="col">Shadow price</th><th scope="col">Shadow (bps)</th><th scope="col">Live price</th><th scope="col">Live (bps)</th>
    <th scope="col">Shortfall (bps)</th><th scope="col">Shortfall (USD)</th><th scope="col">Latency shadow / live (ms)</th></tr></thead><tbody>${body}</tbody>`);
  $("#sf-more").hidden = !cursor;
  $("#sf-note").textContent = items.length ? `${items.length} signals shown, newest first${cursor ? "; more are available" : ""}.` : "";
}

function clearShortfall() {
  state.sf = { items: [], cursor: null, query: "" };
  $("#sf-cards").innerHTML = "";
  for (const id of ["#sf-sign", "#sf-note", "#sf-range", "#sf-chart-summary"]) $(id).textContent = "";
  clearTable($("#sf-items"));
  $("#sf-more").hidden = true;
  $("#sf-status").hidden = true;
  $("#sf-empty").hidden = true;
  $("#sf-body").hidden = false;
  $("#shortfall").dataset.state = "idle";
}

/** Load the section (`more`: the next page of rows, for the same query). */
async function loadShortfall(generation, more = false) {
  const section = $("#shortfall");
  const source = currentFilters().get("source");
  if (!more && (source === "paper" || source === "backtest")) $("#sf-source").value = source;
  const query = shortfallQuery();
  const key = query.toString();
  if (more && (key !== state.sf.query || !state.sf.cursor)) return;
  const button = $("#sf-more");
  button.disabled = true;
  if (!more) { section.dataset.state = "loading"; $("#sf-cards").setAttribute("aria-busy", "true"); }
  try {
    const params = new URLSearchParams(query);
    params.set("limit", "50");
    if (more) params.set("cursor", state.sf.cursor);
    const d = await api(`/trades/shortfall?${params}`);
    if (generation !== state.generation || key !== shortfallQuery().toString()) return;
    state.sf = { items: more ? state.sf.items.concat(d.items) : d.items, cursor: d.next_cursor, query: key };
    $("#sf-status").hidden = true;
    const shadow = query.get("shadow_source");
    const s = d.summary;
    const none = s.signals === "0" && s.live_only === "0" && !state.sf.items.length;
    const filtered = [...query.keys()].some((k) => k !== "shadow_source");
    $("#sf-empty").hidden = !(none && !filtered);
    $("#sf-body").hidden = none && !filtered;
    if (!more) {
      renderShortfallCards(d);
      document.querySelectorAll(".sf-shadow").forEach((el) => { el.textContent = shadow; });
      $("#sf-range").textContent = `· ${s.signals} signals, ${s.linked} linked · live vs ${shadow}`;
      if (!$("#sf-body").hidden) drawTracking(d.tracking || [], shadow);
    }
    renderShortfallItems();
    section.dataset.query = key;
    section.dataset.state = none && !filtered ? "empty" : "ready";
  } catch (err) {
    if (generation !== state.generation) return;
    section.dataset.state = "error";
    $("#sf-cards").setAttribute("aria-busy", "false");
    if (err.status === 401) return;
    showStatus(`Live vs shadow: ${err.code === "invalid_date_range" ? "the “From” date is after the “To” date." : err.message}`,
               "error", () => loadShortfall(state.generation, more), $("#sf-status"));
  } finally {
    button.disabled = false;
  }
}

function wireShortfall() {
  $("#sf-source").addEventListener("change", () => loadShortfall(state.generation));
  $("#sf-more").addEventListener("click", () => loadShortfall(state.generation, true));
}

// ------------------------------------------------------------------------------ CSV
function csvCell(v) {
  let s = v === null || v === undefined ? "" : String(v);
  // free text (exit reasons) starting like a formula is defused for spreadsheets; numbers stay numbers
  if (/^[=+\-@\t\r]/.test(s) && !/^[+-]?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toCsv(columns, rows) {
  return [columns.join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\r\n") + "\r\n";
}

function fileSuffix() {
  const f = currentFilters().toString();
  return f ? `-${f.replace(/[^A-Za-z0-9_-]+/g, "_")}` : "";
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url; a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const TRADE_COLUMNS = ["id", "status", "source", "strategy_id", "symbol", "side", "quantity", "entry_price", "exit_price",
  "realized_pnl", "realized_pnl_percent", "current_pnl", "created_at", "closed_at", "exit_reason", "risk_amount", "stop_loss"];

async function exportTrades() {
  const note = $("#export-note");
  const button = $("#export-trades");
  button.disabled = true;
  try {
    const rows = [];
    for (const status of ["CLOSED", "OPEN"]) {
      let cursor = null;
      do {
        note.textContent = `Reading trades… ${rows.length}`;
        const page = await api(`/trades/shadow?status=${status}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        rows.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
    }
    const selected = rows.filter(matchesFilters);
    download(`trades${fileSuffix()}.csv`, toCsv(TRADE_COLUMNS, selected));
    note.textContent = `Exported ${selected.length} trades.`;
  } catch (err) {
    note.textContent = `Export failed: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------------------ open trades
async function loadOpenTrades(generation) {
  try {
    const items = [];
    let cursor = null;
    do {
      const page = await api(`/trades/shadow?status=OPEN&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    if (generation !== state.generation) return;
    state.open = items;
    renderOpenTrades();
    updateEmptyState();
    startLiveQuotes(generation);
    watchOpenTrades(generation);
  } catch (err) {
    if (generation === state.generation) showError(err);
  }
}

function isoOf(v) {
  return v && typeof v.toDate === "function" ? v.toDate().toISOString() : v;
}

/** Follow the user's OPEN trades (firestore.rules let users read their own documents): a
 * trade executed over the API appears at once, one closed elsewhere leaves and refreshes
 * the figures. The list first comes from GET /trades/shadow?status=OPEN. */
async function watchOpenTrades(generation) {
  if (state.openUnsubscribe) return;
  let fsdb;
  try { fsdb = await firestore(); } catch { return; }
  if (generation !== state.generation || !state.user) return;
  const { fs, db } = fsdb;
  const q = fs.query(fs.collection(db, "users", state.user.uid, "shadowTradeHistory"), fs.where("status", "==", "OPEN"));
  let first = true;
  state.openUnsubscribe = fs.onSnapshot(q, (snap) => {
    if (generation !== state.generation) return;
    const before = new Set(state.open.map((t) => t.id));
    state.open = snap.docs.map((d) => {
      const t = d.data();
      const out = {};
      for (const [k, v] of Object.entries(t)) out[k] = isoOf(v);
      out.id = t.shadow_id || d.id;
      return out;
    }).sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    const after = new Set(state.open.map((t) => t.id));
    renderOpenTrades();
    startLiveQuotes(generation);
    const left = [...before].some((id) => !after.has(id));
    if (!first && left) { loadDashboard(generation); loadHistory(true, generation); }
    if (!first) updateEmptyState();
    first = false;
  }, (err) => {
    $("#live-note").textContent = `Open trades are no longer followed live (${err.code || err.message}); reload the page to retry.`;
  });
}

function unrealizedOf(trade) {
  const quote = state.quotes.get(trade.symbol);
  if (quote) {
    const cents = unrealizedCents(trade.side, trade.quantity, trade.entry_price, quote);
    if (cents !== null) return { cents, live: true };
  }
  return { cents: trade.current_pnl ? toCents(trade.current_pnl) : null, live: false };
}

function pnlCell(cents, extraClass = "", attrs = "") {
  if (cents === null) return `<td class="num ${extraClass}" ${attrs}>—</td>`;
  const text = centsToString(cents);
  const sign = signOf(text);
  return `<td class="num ${extraClass} ${sign > 0 ? "gain" : sign < 0 ? "loss" : ""}" ${attrs} data-raw="${text}">${signMark(sign)}${formatDecimal(text, { signed: true })}</td>`;
}

function quoteText(trade) {
  const q = state.quotes.get(trade.symbol);
  if (!q) return "no live quote";
  const parts = [];
  if (q.bid) parts.push(`bid ${formatDecimal(q.bid, { places: Math.max(2, (q.bid.split(".")[1] || "").length) })}`);
  if (q.ask) parts.push(`ask ${formatDecimal(q.ask, { places: Math.max(2, (q.ask.split(".")[1] || "").length) })}`);
  if (!parts.length && q.price) parts.push(`price ${q.price}`);
  return parts.join(" / ");
}

function renderOpenTrades() {
  const table = $("#open-trades");
  const rows = state.open.filter(matchesFilters);
  clearTable(table);
  if (!rows.length) {
    table.insertAdjacentHTML("beforeend", `<tbody><tr><td>No open trade${currentFilters().toString() ? " in this selection" : ""}. Trades opened with POST /trades/execute appear here.</td></tr></tbody>`);
    $("#open-total").textContent = "";
    return;
  }
  const values = [];
  const body = rows.map((t) => {
    const u = unrealizedOf(t);
    values.push(u.cents);
    const label = `${t.side === "BUY" ? "long" : "short"} ${trimDecimal(t.quantity)} ${t.symbol}`;
    return `<tr data-id="${esc(t.id)}" data-symbol="${esc(t.symbol)}">
      <th scope="row">${esc(t.symbol)}</th><td>${t.side === "BUY" ? "long (BUY)" : "short (SELL)"}</td><td class="num">${esc(trimDecimal(t.quantity))}</td>
      <td class="num">${esc(t.entry_price)}</td><td class="quote">${esc(quoteText(t))}</td>${pnlCell(u.cents, "unrealized", `data-live="${u.live}"`)}
      <td>${esc(t.strategy_id || "")}</td><td>${esc(t.source || "paper")}</td><td>${esc(shortTime(t.created_at))}</td>
      <td><button type="button" class="close" data-id="${esc(t.id)}" aria-label="Close the ${esc(label)} trade">Close</button></td></tr>`;
  }).join("");
  table.insertAdjacentHTML("beforeend", `<thead><tr><th scope="col">Symbol</th><th scope="col">Side</th><th scope="col">Qty</th><th scope="col">Entry</th>
    <th scope="col">Live quote</th><th scope="col">Unrealized (USD)</th><th scope="col">Strategy</th><th scope="col">Source</th><th scope="col">Opened</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead><tbody>${body}</tbody>`);
  const total = centsToString(sumCents(values));
  $("#open-total").innerHTML = `· ${rows.length} open, unrealized <span data-raw="${total}" class="${signOf(total) > 0 ? "gain" : signOf(total) < 0 ? "loss" : ""}">${signMark(signOf(total))}${formatDecimal(total, { signed: true })} USD</span>`;
  table.querySelectorAll("button.close").forEach((b) => b.addEventListener("click", () => closeTrade(b)));
}

async function closeTrade(button) {
  const id = button.dataset.id;
  const trade = state.open.find((t) => t.id === id);
  const box = $("#close-result");
  button.disabled = true;
  box.hidden = false;
  box.className = "banner";
  box.textContent = `Closing ${trade ? trade.symbol : id}…`;
  try {
    const closed = await api("/trades/close-shadow", { method: "POST", body: { shadow_id: id } });
    const sign = signOf(closed.realized_pnl);
    box.className = `banner ${sign >= 0 ? "ok" : "warn"}`;
    box.textContent = `Closed ${closed.symbol} ${closed.side === "BUY" ? "long" : "short"} ${trimDecimal(closed.quantity)} at ${closed.exit_price}: realized ${formatDecimal(closed.realized_pnl, { signed: true })} USD (${formatDecimal(closed.realized_pnl_percent, { signed: true })} %).`;
    const generation = state.generation;
    state.open = state.open.filter((t) => t.id !== id);
    renderOpenTrades();
    startLiveQuotes(generation);
    await Promise.all([loadDashboard(generation), loadHistory(true, generation)]);
  } catch (err) {
    box.className = "banner error";
    box.textContent = `Could not close ${trade ? trade.symbol : id}: ${err.message}`;
    button.disabled = false;
  }
}

// ------------------------------------------------------------------------------ live quotes
async function firestore() {
  if (!state.firestore) {
    const fs = await import("firebase/firestore");
    const db = fs.getFirestore(state.app);
    const host = state.config.firestore_emulator_host;
    if (host) {
      const i = host.lastIndexOf(":");
      fs.connectFirestoreEmulator(db, host.slice(0, i), Number(host.slice(i + 1)));
    }
    state.firestore = { fs, db };
  }
  return state.firestore;
}

async function startLiveQuotes(generation) {
  const symbols = new Set(state.open.map((t) => t.symbol));
  for (const [symbol, unsubscribe] of state.unsubscribers) {
    if (!symbols.has(symbol)) { unsubscribe(); state.unsubscribers.delete(symbol); }
  }
  if (![...symbols].some((s) => !state.unsubscribers.has(s))) return;
  let fsdb;
  try { fsdb = await firestore(); } catch (err) {
    $("#live-note").textContent = `Live quotes are unavailable (${err.message}); the figures are those of the last load.`;
    return;
  }
  if (generation !== state.generation) return;
  const { fs, db } = fsdb;
  for (const symbol of symbols) {
    if (state.unsubscribers.has(symbol)) continue;
    const unsubscribe = fs.onSnapshot(fs.doc(db, "live_quotes", symbol), (snap) => {
      if (!snap.exists()) return;
      const q = snap.data();
      const str = (v) => (v === null || v === undefined ? null : String(v));
      state.quotes.set(symbol, { bid: str(q.bid), ask: str(q.ask), price: str(q.price) });
      renderOpenTrades();
    }, (err) => {
      $("#live-note").textContent = `Live quotes stopped (${err.code || err.message}); reload the page to retry.`;
    });
    state.unsubscribers.set(symbol, unsubscribe);
  }
}

function stopLiveQuotes() {
  if (state.openUnsubscribe) { state.openUnsubscribe(); state.openUnsubscribe = null; }
  for (const unsubscribe of state.unsubscribers.values()) unsubscribe();
  state.unsubscribers.clear();
  state.quotes.clear();
}

// ------------------------------------------------------------------------------ history
function shortTime(iso) {
  if (!iso) return "";
  return String(iso).replace("T", " ").replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)$/, "").slice(0, 16);
}

async function loadHistory(reset, generation) {
  const more = $("#more");
  try {
    more.disabled = true;
    const cursor = reset ? null : state.historyCursor;
    const page = await api(`/trades/shadow?status=CLOSED&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (generation !== state.generation) return;
    state.history = reset ? page.items : state.history.concat(page.items);
    state.historyCursor = page.next_cursor;
    renderHistory();
    updateEmptyState();
  } catch (err) {
    if (generation === state.generation) showError(err);
  } finally {
    more.disabled = false;
  }
}

function renderHistory() {
  const table = $("#history");
  const rows = state.history.filter(matchesFilters)
    .sort((a, b) => (state.historySort === "desc" ? -1 : 1) * String(a.closed_at || "").localeCompare(String(b.closed_at || "")));
  clearTable(table);
  const sortLabel = state.historySort === "desc" ? "newest first" : "oldest first";
  const body = rows.length ? rows.map((t) => `<tr data-id="${esc(t.id)}"><td>${esc(shortTime(t.closed_at))}</td><th scope="row">${esc(t.symbol)}</th>
      <td>${t.side === "BUY" ? "long" : "short"}</td><td class="num">${esc(trimDecimal(t.quantity))}</td><td class="num">${esc(t.entry_price)}</td><td class="num">${esc(t.exit_price ?? "")}</td>
      ${pnlCell(t.realized_pnl ? toCents(t.realized_pnl) : null)}<td>${esc(t.strategy_id || "")}</td><td>${esc(t.source || "paper")}</td></tr>`).join("")
    : `<tr><td colspan="9">No closed trade${currentFilters().toString() ? " among the loaded ones matches the filters" : " yet"}.</td></tr>`;
  table.insertAdjacentHTML("beforeend", `<thead><tr><th scope="col" aria-sort="${state.historySort === "desc" ? "descending" : "ascending"}">
    <button type="button" id="sort-closed" aria-label="Closed at (UTC), ${sortLabel}; change the order">Closed (UTC) ${state.historySort === "desc" ? "↓" : "↑"}</button></th>
    <th scope="col">Symbol</th><th scope="col">Side</th><th scope="col">Qty</th><th scope="col">Entry</th><th scope="col">Exit</th><th scope="col">Realized (USD)</th>
    <th scope="col">Strategy</th><th scope="col">Source</th></tr></thead><tbody>${body}</tbody>`);
  $("#sort-closed").addEventListener("click", () => {
    state.historySort = state.historySort === "desc" ? "asc" : "desc";
    renderHistory();
    $("#sort-closed").focus();
  });
  $("#more").hidden = !state.historyCursor;
  $("#history-note").textContent = `${state.history.length} loaded${state.historyCursor ? "; more are available" : ""}. Sorted by close time within the loaded rows; filters apply to them too.`;
}

// ------------------------------------------------------------------------------ settings
function fillSettings(s) {
  const form = $("#settings");
  form.elements.starting_capital.value = s.starting_capital;
  form.elements.timezone.value = s.timezone;
  const select = form.elements.calendar;
  const calendar = s.calendar || "XNYS";
  if (![...select.options].some((o) => o.value === calendar)) {
    // a calendar set elsewhere that the list does not name: keep it selectable
    select.querySelector('option[value="other"]').insertAdjacentHTML("beforebegin", `<option value="${esc(calendar)}">${esc(calendar)}</option>`);
  }
  select.value = calendar;
  form.elements.calendar_other.value = "";
  $("#s-calendar-other-box").hidden = true;
}

const CAPITAL_RE = /^\d+(\.\d{1,2})?$/;

function wireSettings() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("#zones").innerHTML = zones.map((z) => `<option value="${esc(z)}">`).join("");
  const form = $("#settings");
  form.elements.calendar.addEventListener("change", () => {
    const other = form.elements.calendar.value === "other";
    $("#s-calendar-other-box").hidden = !other;
    if (other) form.elements.calendar_other.focus();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = $("#settings-result");
    const capital = form.elements.starting_capital.value.trim();
    if (!CAPITAL_RE.test(capital)) {
      out.className = "error";
      out.textContent = "Starting capital: a positive amount in USD, like 100000 or 2500.50.";
      return;
    }
    const calendar = form.elements.calendar.value === "other" ? form.elements.calendar_other.value.trim() : form.elements.calendar.value;
    if (!calendar) {
      out.className = "error";
      out.textContent = "Calendar: type an exchange-calendars name (like XSWX), or pick one from the list.";
      return;
    }
    try {
      const saved = await api("/users/me/settings", { method: "PUT", body: { starting_capital: capital, timezone: form.elements.timezone.value.trim(), calendar } });
      fillSettings(saved);
      out.className = "ok";
      out.textContent = `Saved: starting capital ${formatDecimal(saved.starting_capital)} USD, time zone ${saved.timezone}, calendar ${saved.calendar}.`;
      loadDashboard(state.generation);
    } catch (err) {
      out.className = "error";
      out.textContent = `Not saved: ${err.message}`;
    }
  });
  wireStrategySettings();
}

/** The strategies the user has (every by_strategy seen) in the strategy-capital select. */
function fillStrategyChoices() {
  const select = $("#ss-strategy");
  const chosen = select.value;
  const ids = [...state.knownStrategies].sort();
  if (!ids.length) {
    select.innerHTML = '<option value="">(no strategy yet)</option>';
    delete select.dataset.ids;
    return;
  }
  if (select.dataset.ids === ids.join("\n")) return;
  select.dataset.ids = ids.join("\n");
  select.innerHTML = ids.map((id) => `<option value="${esc(id)}">${esc(id)}</option>`).join("");
  if (ids.includes(chosen)) select.value = chosen;
  else loadStrategySettings();
}

async function loadStrategySettings() {
  const id = $("#ss-strategy").value;
  const out = $("#strategy-settings-result");
  const input = $("#ss-capital");
  input.value = "";
  out.className = ""; out.textContent = "";
  if (!id) return;
  try {
    const s = await api(`/strategies/${encodeURIComponent(id)}/settings`);
    if ($("#ss-strategy").value !== id) return;
    input.value = s.starting_capital ?? "";
    input.placeholder = s.starting_capital === null || s.starting_capital === undefined ? "uses yours" : "";
    out.textContent = s.starting_capital === null || s.starting_capital === undefined
      ? `${id} uses your starting capital.` : `${id} starts from ${formatDecimal(s.starting_capital)} USD when the view is filtered on it alone.`;
  } catch (err) {
    out.className = "error";
    out.textContent = `Could not read ${id}'s settings: ${err.message}`;
  }
}

function wireStrategySettings() {
  const form = $("#strategy-settings");
  const out = $("#strategy-settings-result");
  $("#ss-strategy").addEventListener("change", loadStrategySettings);
  const save = async (capital) => {
    const id = $("#ss-strategy").value;
    if (!id) {
      out.className = "error";
      out.textContent = "No strategy yet: strategies appear once trades with a strategy_id close.";
      return;
    }
    try {
      const saved = await api(`/strategies/${encodeURIComponent(id)}/settings`, { method: "PUT", body: { starting_capital: capital } });
      $("#ss-capital").value = saved.starting_capital ?? "";
      out.className = "ok";
      out.textContent = saved.starting_capital === null || saved.starting_capital === undefined
        ? `Saved: ${id} uses your starting capital again.`
        : `Saved: ${id} starts from ${formatDecimal(saved.starting_capital)} USD; filter on strategy ${id} to see its figures from it.`;
      loadDashboard(state.generation);
    } catch (err) {
      out.className = "error";
      out.textContent = `Not saved: ${err.message}`;
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const capital = $("#ss-capital").value.trim();
    if (!capital) { save(null); return; }
    if (!CAPITAL_RE.test(capital) || !/[1-9]/.test(capital)) {
      out.className = "error";
      out.textContent = "Strategy capital: a positive amount in USD, like 25000 or 2500.50; empty to use yours.";
      return;
    }
    save(capital);
  });
  $("#ss-clear").addEventListener("click", () => save(null));
}

// ------------------------------------------------------------------------------ start
async function start() {
  let config;
  try {
    const r = await fetch("/web/config.json");
    config = await r.json();
  } catch (err) {
    $("#boot").textContent = "The service did not answer; reload the page when it runs again.";
    return;
  }
  state.config = config;
  state.app = initializeApp({ apiKey: config.api_key, authDomain: config.auth_domain, projectId: config.project_id });
  state.auth = getAuth(state.app);
  if (config.auth_emulator_url) {
    connectAuthEmulator(state.auth, config.auth_emulator_url, { disableWarnings: true });
    $("#emulator-note").hidden = false;
  }
  wireSignIn(); wireFilters(); wireCalendar(); wireSettings(); wireShortfall();
  $("#more").addEventListener("click", () => loadHistory(false, state.generation));
  $("#export-trades").addEventListener("click", exportTrades);
  $("#copy-token").addEventListener("click", async () => {
    const token = await state.auth.currentUser.getIdToken();
    try { await navigator.clipboard.writeText(token); $("#copy-note").textContent = "Copied (valid for an hour)."; }
    catch { $("#copy-note").textContent = `Your token: ${token}`; }
  });
  $("#boot").hidden = true;
  onAuthStateChanged(state.auth, (user) => {
    if (user) showSignedIn(user);
    else showSignedOut();
  });
}

start();
