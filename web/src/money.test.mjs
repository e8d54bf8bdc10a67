// node --test web/src/money.test.mjs : the page's exact decimal helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { centsToString, formatDecimal, toCents, unrealizedCents, sumCents, signOf } from "./money.js";

test("README example: long 10 @ 187.25 marked at bid 190.10 is +28.50", () => {
  assert.equal(centsToString(unrealizedCents("BUY", "10", "187.25", { bid: "190.10", ask: "190.15" })), "28.50");
});

test("short exits at the ask: short 1 @ 200, ask 196 is +4.00", () => {
  assert.equal(centsToString(unrealizedCents("SELL", "1", "200", { bid: "195.90", ask: "196" })), "4.00");
});

test("no bid falls back to price; no price at all gives null", () => {
  assert.equal(centsToString(unrealizedCents("BUY", "2", "1.5", { price: "1.75" })), "0.50");
  assert.equal(unrealizedCents("BUY", "2", "1.5", {}), null);
});

test("binary floats would be wrong here; BigInt is exact", () => {
  // 0.1 + 0.2 style: (0.3 - 0.1) x 3 = 0.60 exactly
  assert.equal(centsToString(unrealizedCents("BUY", "3", "0.1", { bid: "0.3" })), "0.60");
  // (1.005 - 1) x 1 = 0.005 -> half up to 0.01; a loss of 0.005 -> -0.01 (away from zero)
  assert.equal(centsToString(unrealizedCents("BUY", "1", "1", { bid: "1.005" })), "0.01");
  assert.equal(centsToString(unrealizedCents("BUY", "1", "1.005", { bid: "1" })), "-0.01");
  // fractional quantity from a notional order
  assert.equal(centsToString(unrealizedCents("BUY", "5.340454", "187.25", { bid: "190.10" })), "15.22");
});

test("cents, sums and signs", () => {
  assert.equal(toCents("12.345"), 1235n);
  assert.equal(toCents("-12.345"), -1235n);
  assert.equal(centsToString(sumCents([100n, null, -250n])), "-1.50");
  assert.equal(signOf("-0.01"), -1);
  assert.equal(signOf("0.00"), 0);
});

test("formatting groups thousands and signs without arithmetic", () => {
  assert.equal(formatDecimal("1234567.5"), "1,234,567.50");
  assert.equal(formatDecimal("-62", { signed: true }), "−62.00");
  assert.equal(formatDecimal("28.5", { signed: true }), "+28.50");
  assert.equal(formatDecimal("0.005"), "0.01");
  assert.equal(formatDecimal("0"), "0.00");
  assert.equal(formatDecimal(null), "—");
});
