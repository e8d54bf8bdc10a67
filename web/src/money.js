// Exact decimal helpers for the page: money arrives from the API as decimal strings (or as
// JSON numbers kept as their source text), and the only figure the page computes itself,
// the unrealized P&L of an open trade as quotes move, is done here in BigInt, never in
// binary floating point. Rounding matches the service: ROUND_HALF_UP (ties away from zero)
// to the cent.

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** Parse a decimal string ("187.25", "-3", "1e2" is refused) into {m: BigInt, s: scale}. */
export function parseDecimal(text) {
  const match = DECIMAL.exec(String(text).trim());
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) throw new Error(`not a decimal: ${text}`);
  const frac = match[3] ?? "";
  const m = BigInt((match[2] || "0") + frac) * (match[1] === "-" ? -1n : 1n);
  return { m, s: frac.length };
}

function rescale(d, s) {
  return d.s === s ? d.m : d.m * 10n ** BigInt(s - d.s);
}

/** Round m / 10^shift half away from zero to an integer. */
function roundHalfUp(m, shift) {
  if (shift <= 0) return m * 10n ** BigInt(-shift);
  const div = 10n ** BigInt(shift);
  const neg = m < 0n;
  const abs = neg ? -m : m;
  let q = abs / div;
  if ((abs % div) * 2n >= div) q += 1n;
  return neg ? -q : q;
}

/** Integer cents of a decimal string, ROUND_HALF_UP. */
export function toCents(text) {
  const d = parseDecimal(text);
  return roundHalfUp(d.m, d.s - 2);
}

/** "-1234.5" style cents as a plain decimal string with two places: -123450n -> "-1234.50". */
export function centsToString(cents) {
  const neg = cents < 0n;
  const abs = neg ? -cents : cents;
  const whole = abs / 100n;
  const frac = (abs % 100n).toString().padStart(2, "0");
  return `${neg ? "-" : ""}${whole}.${frac}`;
}

/**
 * Unrealized P&L of an open trade, in integer cents:
 * (exit-side price - entry) x quantity x (+1 long, -1 short), a long exiting at the bid and a
 * short at the ask (else the quote's price). Returns null when the quote has no usable price.
 */
export function unrealizedCents(side, quantity, entryPrice, quote) {
  const long = String(side).toUpperCase() === "BUY";
  const exit = long ? (quote.bid ?? quote.price) : (quote.ask ?? quote.price);
  if (exit === null || exit === undefined || exit === "") return null;
  const x = parseDecimal(exit);
  const e = parseDecimal(entryPrice);
  const q = parseDecimal(quantity);
  const s = Math.max(x.s, e.s);
  const diff = rescale(x, s) - rescale(e, s);
  const product = diff * q.m * (long ? 1n : -1n);
  return roundHalfUp(product, s + q.s - 2);
}

/** Sum of cents (BigInt), ignoring nulls. */
export function sumCents(values) {
  return values.reduce((acc, v) => (v === null || v === undefined ? acc : acc + v), 0n);
}

/** Sign of a decimal string: -1, 0 or 1. */
export function signOf(text) {
  if (text === null || text === undefined || text === "") return 0;
  const d = parseDecimal(text);
  return d.m > 0n ? 1 : d.m < 0n ? -1 : 0;
}

/**
 * Format a decimal string for display without arithmetic: thousands separators, a fixed
 * number of places (padding with zeros, or rounding half up on the digits when longer) and
 * an explicit sign when `signed` is set.
 */
export function formatDecimal(text, { places = 2, signed = false } = {}) {
  if (text === null || text === undefined || text === "") return "—";
  const d = parseDecimal(text);
  const m = roundHalfUp(d.m, d.s - places);
  const neg = m < 0n;
  const abs = (neg ? -m : m).toString().padStart(places + 1, "0");
  const whole = abs.slice(0, abs.length - places);
  const frac = places ? "." + abs.slice(abs.length - places) : "";
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const sign = neg ? "−" : signed && m > 0n ? "+" : "";
  return `${sign}${grouped}${frac}`;
}

/** A quantity or price without trailing zeros after the point ("10.000000" -> "10"). */
export function trimDecimal(text) {
  if (text === null || text === undefined) return "";
  const s = String(text);
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}
