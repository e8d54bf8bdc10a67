"""The dashboard's "Live vs shadow" section in Chromium: the shortfall cards, the tracking
difference chart and the per-signal rows of GET /trades/shortfall for signals seeded through
the API (a backtest fill and a live fill of one signal: 2.00 / 5.00 / 3.00 bps), paging with
"More signals", the page's filters, and the empty state of a user without signals."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from .conftest import new_email, sign_in_through_form

T0 = (datetime.now(timezone.utc) - timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)

#: Every non-transparent pixel of a chart's canvases close to its line colour (#6b3fa0).
LINE_PIXELS = """(sel) => {
  let n = 0;
  for (const c of document.querySelectorAll(`${sel} canvas`)) {
    if (!c.width || !c.height) continue;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4)
      if (d[i + 3] > 200 && Math.abs(d[i] - 107) < 40 && Math.abs(d[i + 1] - 63) < 40 && Math.abs(d[i + 2] - 160) < 40) n++;
  }
  return n;
}"""


def seed_signal(service, user, *, symbol: str, signal: str, live_price: str | None) -> None:
    """A backtest fill of `signal` at a 100.00 bar (filled 100.02 at the strategy's 2 bps
    slippage), optionally its live fill at `live_price`, both closed on T0's day."""
    shadow = service.call("POST", "/trades/execute", user, json={
        "symbol": symbol, "side": "BUY", "quantity": "100", "strategy_id": "s1", "source": "backtest",
        "price": "100.00", "filled_at": T0.isoformat(), "signal_id": signal})
    closed_at = (T0 + timedelta(hours=2)).isoformat()
    service.call("POST", "/trades/close-shadow", user, json={"shadow_id": shadow["id"], "price": "101.00",
                                                              "closed_at": closed_at})
    if live_price is None:
        return
    service.call("POST", "/trades/execute", user, json={
        "symbol": symbol, "side": "BUY", "quantity": "100", "strategy_id": "s1", "source": "live",
        "price": live_price, "filled_at": (T0 + timedelta(minutes=1)).isoformat(), "commission": "1.00",
        "execution_id": f"E-{signal}", "signal_id": signal})
    service.call("POST", "/trades/close-shadow", user, json={
        "source": "live", "strategy_id": "s1", "symbol": symbol, "price": "100.98", "closed_at": closed_at,
        "commission": "1.00", "execution_id": f"X-{signal}"})


class TestLiveVsShadow:
    def test_cards_chart_and_rows_of_a_linked_signal(self, page, service):
        user = service.sign_up(new_email("shortfall"))
        symbol = "S" + uuid.uuid4().hex[:5].upper()
        service.call("PUT", "/strategies/s1/costs", user, json={"slippage_bps": "2"})  # 100.00 -> 100.02
        seed_signal(service, user, symbol=symbol, signal="sig-linked", live_price="100.05")
        seed_signal(service, user, symbol=symbol, signal="sig-shadow", live_price=None)
        # pages of one signal, so that "More signals" follows next_cursor
        page.route(lambda url: "/trades/shortfall?" in url, lambda route: route.continue_(url=route.request.url.replace("limit=50", "limit=1")))

        sign_in_through_form(page, service.url, user["email"])
        section = page.locator("#shortfall")
        page.wait_for_selector("#shortfall[data-state=ready][data-query='shadow_source=paper']")
        page.get_by_label("Compare live with").select_option("backtest")
        page.wait_for_selector("#shortfall[data-state=ready][data-query='shadow_source=backtest']")
        api = service.call("GET", "/trades/shortfall?shadow_source=backtest", user)

        # the cards: the API's summary strings as sent; 3.00 bps and 3.00 USD of shortfall
        cards = page.locator("#sf-cards")
        for key in ("mean_bps", "median_bps", "total_usd"):
            assert cards.locator(f'[data-metric="{key}"] .num').inner_text().strip() == "3.00", key
        for key, value in api["summary"].items():
            num = cards.locator(f'[data-metric="{key}"] .num')
            assert num.get_attribute("data-raw") == value and num.inner_text().strip() == value, key
        assert (api["summary"]["signals"], api["summary"]["linked"], api["summary"]["filled_live_percent"]) == ("2", "1", "50.00")
        assert "worse for the trader" in cards.locator('[data-metric="mean_bps"] .num').get_attribute("aria-label")
        assert "loss" in cards.locator('[data-metric="total_usd"]').get_attribute("class")
        assert page.locator("#sf-sign").inner_text().startswith("Sign convention: Positive = worse for the trader")
        assert "live vs backtest" in page.locator("#sf-range").inner_text()

        # the tracking difference: a line drawn on the chart's canvas, the API's figures in words
        assert page.locator("#sf-chart canvas").count() > 0
        page.wait_for_function(f"({LINE_PIXELS})('#sf-chart') > 0")
        last = api["tracking"][-1]
        summary = page.locator("#sf-chart-summary").inner_text()
        assert f"tracking difference {last['tracking_difference']} USD" in summary
        assert f"cumulative backtest {last['cumulative_shadow']} USD" in summary
        assert page.locator("#sf-caption").inner_text().count("backtest") == 1

        # the rows: one page, then "More signals" for the next one
        rows = page.locator("#sf-items tbody tr[data-signal]")
        assert rows.count() == 1
        page.get_by_role("button", name="More signals").click()
        page.wait_for_function("document.querySelectorAll('#sf-items tbody tr[data-signal]').length === 2")
        # a full page always has a next_cursor: the third page is empty and ends the list
        page.get_by_role("button", name="More signals").click()
        page.wait_for_selector("#sf-more", state="hidden")
        assert rows.count() == 2
        row = page.locator('#sf-items tr[data-signal="sig-linked"]')
        cell = lambda cls: row.locator(f"td.{cls}").inner_text().strip()  # noqa: E731
        assert (cell("decision"), cell("shadow-price"), cell("shadow-bps"), cell("live-price"), cell("live-bps"),
                cell("shortfall-bps"), cell("shortfall-usd")) == (
            "100.00", "100.02", "2.00", "100.05", "5.00", "3.00", "3.00")
        assert row.locator("td").nth(0).inner_text() == "s1" and row.locator("td").nth(1).inner_text() == symbol
        assert "linked" in row.inner_text()
        other = page.locator('#sf-items tr[data-signal="sig-shadow"]')
        assert "shadow only" in other.inner_text() and other.locator("td.live-price").inner_text() == "—"

    def test_the_pages_filters_apply_but_its_source(self, page, service):
        user = service.sign_up(new_email("sffilter"))
        symbol = "S" + uuid.uuid4().hex[:5].upper()
        seed_signal(service, user, symbol=symbol, signal="only", live_price="100.05")
        seed = service.call("GET", "/trades/shortfall?shadow_source=backtest", user)
        assert seed["summary"]["linked"] == "1"
        sign_in_through_form(page, service.url, user["email"])
        # a bookmarked view of backtest trades in another symbol: compared with backtest, no signal there
        page.goto(f"{service.url}/?source=backtest&symbol=NONE")
        page.wait_for_selector("#shortfall[data-state=ready][data-query='symbol=NONE&shadow_source=backtest']")
        assert page.get_by_label("Compare live with").input_value() == "backtest"
        assert page.locator("#sf-items tbody").inner_text().strip() == "No signal in this selection."
        assert page.locator("#sf-empty").is_hidden()
        page.get_by_role("button", name="Clear").click()
        page.wait_for_selector("#shortfall[data-state=ready][data-query='shadow_source=backtest']")
        page.locator('#sf-items tr[data-signal="only"]').wait_for()

    def test_a_user_without_signals_sees_how_to_send_one(self, page, service):
        user = service.sign_up(new_email("nosignal"))
        sign_in_through_form(page, service.url, user["email"])
        page.wait_for_selector("#shortfall[data-state=empty]")
        empty = page.locator("#sf-empty")
        assert empty.is_visible()
        assert "No signals yet: send a fill with a signal_id" in empty.inner_text()
        assert page.locator("#sf-body").is_hidden()
