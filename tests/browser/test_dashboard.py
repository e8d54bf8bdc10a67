"""The dashboard in Chromium: sign-up/sign-in on the Auth emulator, live open trades, close
from the page, cards equal to the API, filters in the URL, calendar modes, CSV export,
isolation between users, sign-out, and screenshots of the overview."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import PASSWORD, ROOT, SCREENSHOTS, new_email, sign_in_through_form

CARD_KEYS = ["total_pnl", "gross_pnl", "total_commission", "total_slippage", "win_rate_trades", "win_rate_days", "profit_factor", "avg_win", "avg_loss",
             "total_return", "cagr", "max_drawdown", "sharpe_ratio", "sortino_ratio", "volatility", "calmar_ratio",
             "expectancy"]
#: Annualised figures: null below a year of window, shown "n/a" with conventions.cagr's reason.
ANNUALISED = {"cagr", "calmar_ratio"}


def shown_decimal(text: str) -> str:
    """A card's visible number back to a plain decimal string ("−1,234.50" -> "-1234.50")."""
    return text.replace("▲", "").replace("▼", "").replace("+", "").replace(",", "").replace("−", "-").strip()


def sym() -> str:
    return "T" + uuid.uuid4().hex[:5].upper()


def backtest_trade(service, user, *, symbol, strategy, entry, exit_, day: date, side="BUY", qty="10", risk=None):
    body = {"symbol": symbol, "side": side, "quantity": qty, "strategy_id": strategy, "source": "backtest",
            "price": entry, "filled_at": f"{day.isoformat()}T14:00:00+00:00"}
    if risk:
        body["risk_amount"] = risk
    t = service.call("POST", "/trades/execute", user, json=body)
    return service.call("POST", "/trades/close-shadow", user,
                        json={"shadow_id": t["id"], "price": exit_, "closed_at": f"{day.isoformat()}T19:00:00+00:00"})


def assert_cards_equal_api(page, service, user, query: str) -> None:
    api = service.call("GET", f"/trades/shadow/dashboard{'?' + query if query else ''}", user)
    for key in CARD_KEYS:
        num = page.locator(f'[data-metric="{key}"] .num')
        raw = num.get_attribute("data-raw")
        expected = api[key]
        if key == "profit_factor" and api.get("profit_factor_infinite") is True:
            assert raw == "infinite" and num.inner_text() == "∞"
            continue
        if expected is None:
            na = key in ANNUALISED and api["cagr"] is None
            assert raw == "" and num.inner_text().strip() == ("n/a" if na else "—"), key
            continue
        assert raw == expected, (key, raw, expected)
        assert Decimal(shown_decimal(num.inner_text())) == Decimal(expected).quantize(Decimal("0.01")), key


class TestSignIn:
    def test_sign_up_sign_out_and_sign_in_through_the_form(self, page, service):
        email = new_email("newcomer")
        sign_in_through_form(page, service.url, email, create=True)
        assert page.locator("#user-email").inner_text() == email
        # no trades yet: the page says how to send the first one, with a curl line
        empty = page.locator("#empty")
        assert empty.is_visible()
        assert "curl -s -X POST" in empty.locator("pre").inner_text()
        assert page.locator('[data-metric="total_pnl"] .num').get_attribute("data-raw") == "0.00"

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_selector("body[data-state=signed-out]")
        assert page.get_by_role("heading", name="Sign in").is_visible()
        assert page.locator("#main").is_hidden()

        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_function("document.querySelector('#signin-error').textContent.length > 0")
        assert "Wrong email or password" in page.locator("#signin-error").inner_text()

        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_selector("body[data-state=ready]")
        assert page.locator("#user-email").inner_text() == email

    def test_keyboard_only_sign_in(self, page, service):
        user = service.sign_up(new_email("keys"))
        page.goto(service.url)
        page.wait_for_selector("body[data-state=signed-out]")
        page.get_by_label("Email").focus()
        page.keyboard.type(user["email"])
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("body[data-state=ready]")


    def test_an_expired_session_returns_to_the_sign_in_form(self, page, service):
        user = service.sign_up(new_email("expired"))
        sign_in_through_form(page, service.url, user["email"])
        # the service refuses the token from now on (as for a revoked or expired session)
        page.route("**/trades/shadow/dashboard*", lambda route: route.fulfill(
            status=401, content_type="application/json",
            body='{"error":{"code":"invalid_token","message":"The ID token is invalid.","request_id":null,"details":null}}'))
        page.get_by_role("button", name="Apply").click()
        page.wait_for_selector("body[data-state=signed-out]")
        assert "session has expired" in page.locator("#signin-note").inner_text()
        assert page.get_by_role("heading", name="Sign in").is_visible()

    def test_a_service_error_says_what_to_do_and_retry_recovers(self, page, service):
        user = service.sign_up(new_email("outage"))
        sign_in_through_form(page, service.url, user["email"])
        body = ('{"error":{"code":"storage_unavailable","message":"The trade store is unavailable right now; '
                'retry after the delay given in Retry-After.","request_id":null,"details":null}}')
        page.route("**/trades/shadow/dashboard*", lambda route: route.fulfill(
            status=503, content_type="application/json", body=body))
        page.get_by_role("button", name="Apply").click()
        page.wait_for_selector("body[data-state=error]")
        status = page.locator("#status")
        assert "unavailable right now" in status.inner_text()
        page.unroute("**/trades/shadow/dashboard*")
        status.get_by_role("button", name="Retry").click()
        page.wait_for_selector("body[data-state=ready]")
        assert status.is_hidden()


class TestLiveTrades:
    def test_execute_appears_quote_moves_pnl_close_moves_it_to_history(self, page, service):
        symbol = sym()
        service.publish(symbol, bid="187.20", ask="187.25")
        user = service.sign_up(new_email("live"))
        sign_in_through_form(page, service.url, user["email"])
        assert page.locator("#empty").is_visible()

        # an execute over the API appears among the open trades, without a reload
        trade = service.call("POST", "/trades/execute", user,
                             json={"symbol": symbol, "side": "BUY", "quantity": 10, "strategy_id": "ma-cross"})
        row = page.locator(f'#open-trades tr[data-id="{trade["id"]}"]')
        row.wait_for()
        assert row.locator("th").inner_text() == symbol
        page.wait_for_function(  # marked at the live bid: 10 x (187.20 - 187.25)
            f"""document.querySelector('#open-trades tr[data-id="{trade["id"]}"] td.unrealized')?.dataset.raw === '-0.50'""")

        # a quote publish moves its unrealized P&L without a reload: 10 x (190.10 - 187.25)
        service.publish(symbol, bid="190.10", ask="190.15")
        page.wait_for_function(
            f"""document.querySelector('#open-trades tr[data-id="{trade["id"]}"] td.unrealized')?.dataset.raw === '28.50'""")
        cell = row.locator("td.unrealized")
        assert cell.inner_text().strip() == "▲+28.50"
        assert service.call("GET", "/trades/shadow/metrics", user)["unrealized_pnl"] == "28.50"  # the service agrees
        assert "gain" in (cell.get_attribute("class") or "")
        service.publish(symbol, bid="186.00", ask="186.05")
        page.wait_for_function(
            f"""document.querySelector('#open-trades tr[data-id="{trade["id"]}"] td.unrealized')?.dataset.raw === '-12.50'""")
        assert "▼−12.50" in cell.inner_text()

        # closing it from the page moves it to history and updates the cards
        service.publish(symbol, bid="190.10", ask="190.15")
        page.wait_for_function(
            f"""document.querySelector('#open-trades tr[data-id="{trade["id"]}"] td.unrealized')?.dataset.raw === '28.50'""")
        row.get_by_role("button", name=f"Close the long 10 {symbol} trade").click()
        page.wait_for_function("document.querySelector('#close-result').textContent.startsWith('Closed')")
        assert "realized +28.50 USD" in page.locator("#close-result").inner_text()
        page.locator(f'#history tr[data-id="{trade["id"]}"]').wait_for()
        assert page.locator(f'#open-trades tr[data-id="{trade["id"]}"]').count() == 0
        page.wait_for_function("document.querySelector('[data-metric=total_pnl] .num')?.dataset.raw === '28.50'")
        page.wait_for_selector("body[data-state=ready]")
        assert_cards_equal_api(page, service, user, "")

    def test_a_failed_close_says_why_in_words(self, page, service):
        user = service.sign_up(new_email("stale"))
        # a backtest trade needs an exit price the page cannot give: the service's message is shown
        t = service.call("POST", "/trades/execute", user, json={
            "symbol": sym(), "side": "SELL", "quantity": 1, "strategy_id": "bt", "source": "backtest",
            "price": "100", "filled_at": "2024-01-02T15:00:00+00:00"})
        sign_in_through_form(page, service.url, user["email"])
        page.locator(f'#open-trades tr[data-id="{t["id"]}"] button.close').click()
        page.wait_for_function("document.querySelector('#close-result').textContent.startsWith('Could not close')")
        text = page.locator("#close-result").inner_text()
        assert "Could not close" in text and "price" in text.lower()


@pytest.fixture(scope="module")
def trader(service):
    """A user with closed backtest trades on two symbols, two strategies (one with trading
    costs), over two months."""
    user = service.sign_up(new_email("trader"))
    service.call("PUT", "/strategies/breakout/costs", user,
                 json={"commission_per_order": "1.25", "slippage_bps": "3"})
    a, b = sym(), sym()
    start = date(2024, 1, 2)
    plan = [  # (day offset, symbol, strategy, entry, exit, side, risk)
        (0, a, "ma-cross", "100", "103", "BUY", "20"), (0, b, "breakout", "50", "49", "BUY", None),
        (1, a, "ma-cross", "101", "99.5", "BUY", "15"), (3, b, "breakout", "48", "45", "SELL", "10"),
        (9, a, "breakout", "102", "102", "BUY", None), (35, a, "ma-cross", "98", "104.25", "BUY", "40"),
        (36, b, "ma-cross", "47", "49.10", "SELL", "12"), (40, b, "breakout", "46", "51.5", "BUY", None),
    ]
    for offset, symbol, strategy, entry, exit_, side, risk in plan:
        backtest_trade(service, user, symbol=symbol, strategy=strategy, entry=entry, exit_=exit_,
                       day=start + timedelta(days=offset), side=side, risk=risk)
    return {**user, "symbols": (a, b)}


class TestFiguresAndFilters:
    def test_every_card_equals_the_api_and_filters_live_in_the_url(self, page, service, trader):
        a, b = trader["symbols"]
        sign_in_through_form(page, service.url, trader["email"])
        assert_cards_equal_api(page, service, trader, "")
        before = page.locator('[data-metric="total_pnl"] .num').get_attribute("data-raw")
        # breakout's 4 trades paid 1.25 a fill: the cards show the costs beside the net P&L
        assert page.locator('[data-metric="total_commission"] .num').get_attribute("data-raw") == "10.00"
        assert Decimal(page.locator('[data-metric="total_slippage"] .num').get_attribute("data-raw")) > 0

        page.get_by_label("Symbol").fill(a)
        page.get_by_label("Strategy").fill("ma-cross")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_function(f"document.body.dataset.filters === 'strategy_id=ma-cross&symbol={a}'")
        page.wait_for_selector("body[data-state=ready]")
        assert parse_qs(urlparse(page.url).query) == {"strategy_id": ["ma-cross"], "symbol": [a]}
        assert_cards_equal_api(page, service, trader, f"strategy_id=ma-cross&symbol={a}")
        assert page.locator('[data-metric="total_pnl"] .num').get_attribute("data-raw") != before

        # a bookmarked URL with dates and a source opens on the same figures
        query = f"start_date=2024-01-01&end_date=2024-01-31&source=backtest&symbol={b}"
        page.goto(f"{service.url}/?{query}")
        page.wait_for_selector(f"body[data-state=ready][data-filters='{query}']")
        assert page.get_by_label("From (close date)").input_value() == "2024-01-01"
        assert page.get_by_label("Source").input_value() == "backtest"
        assert_cards_equal_api(page, service, trader, query)

        # back to the previous view with the browser's back button; then clear
        page.go_back()
        page.wait_for_selector(f"body[data-state=ready][data-filters='strategy_id=ma-cross&symbol={a}']")
        page.get_by_role("button", name="Clear").click()
        page.wait_for_selector("body[data-state=ready][data-filters='']")
        assert urlparse(page.url).query == ""
        assert page.locator('[data-metric="total_pnl"] .num').get_attribute("data-raw") == before

    def test_calendar_modes_switch(self, page, service, trader):
        sign_in_through_form(page, service.url, trader["email"])
        api = service.call("GET", "/trades/shadow/dashboard", trader)
        day = api["daily_pnl"][0]
        cell = page.locator(f'.calendar .day[data-date="{day["date"]}"]')
        assert cell.get_attribute("data-value") == day["pnl"]
        assert page.locator(".calendar h3").first.inner_text().startswith("January 2024")
        assert "gain day" in page.locator("#cal-legend").inner_text()
        page.get_by_label("R (risk units)").check()
        page.wait_for_selector(".calendar[data-mode=r]")
        assert cell.get_attribute("data-value") == (day["r_return"] or day["r_units"] or "")
        page.get_by_label("% (of equity)").check()
        page.wait_for_selector(".calendar[data-mode=pct]")
        assert cell.get_attribute("data-value") == day["return_percent"]
        assert cell.get_attribute("aria-label").startswith(f'{day["date"]}: ')
        assert cell.get_attribute("aria-label").endswith(" %, " + (f'{day["trades"]} trades' if day["trades"] != "1" else "1 trade"))

    def test_breakdowns_list_each_strategy_symbol_and_source(self, page, service, trader):
        sign_in_through_form(page, service.url, trader["email"])
        api = service.call("GET", "/trades/shadow/dashboard", trader)
        for table, key, rows in (("#by-strategy", "strategy_id", api["by_strategy"]),
                                 ("#by-symbol", "symbol", api["by_symbol"]), ("#by-source", "source", api["by_source"])):
            for r in rows:
                tr = page.locator(f"{table} tbody tr", has=page.locator("th", has_text=r[key]))
                assert shown_decimal(tr.locator("td").nth(3).inner_text()) == r["total_pnl"]

    def test_csv_export_downloads_the_trades_and_the_daily_pnl(self, page, service, trader):
        sign_in_through_form(page, service.url, trader["email"])
        with page.expect_download() as info:
            page.get_by_role("button", name="Export trades (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
        listed = service.call("GET", "/trades/shadow?status=CLOSED&limit=200", trader)["items"]
        assert {r["id"] for r in rows} == {t["id"] for t in listed}
        by_id = {t["id"]: t for t in listed}
        for r in rows:
            assert r["realized_pnl"] == by_id[r["id"]]["realized_pnl"]
        with page.expect_download() as info:
            page.get_by_role("button", name="Export daily P&L (CSV)").click()
        days = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
        api = service.call("GET", "/trades/shadow/dashboard", trader)
        assert [(d["date"], d["pnl"]) for d in days] == [(d["date"], d["pnl"]) for d in api["daily_pnl"]]

    def test_settings_change_the_figures(self, page, service):
        user = service.sign_up(new_email("settings"))
        backtest_trade(service, user, symbol=sym(), strategy="s", entry="100", exit_="110", day=date(2024, 3, 4))
        sign_in_through_form(page, service.url, user["email"])
        assert page.locator('[data-metric="total_return"] .num').get_attribute("data-raw") == "0.10"
        page.get_by_label("Starting capital (USD)").fill("1000")
        page.get_by_role("button", name="Save settings").click()
        page.wait_for_function("document.querySelector('#settings-result').textContent.startsWith('Saved')")
        page.wait_for_function("document.querySelector('[data-metric=total_return] .num')?.dataset.raw === '10.00'")


class TestNewFigures:
    def test_volatility_card_equals_the_api_and_says_how(self, page, service, trader):
        sign_in_through_form(page, service.url, trader["email"])
        api = service.call("GET", "/trades/shadow/dashboard", trader)
        assert api["volatility"] is not None
        card = page.locator('[data-metric="volatility"]')
        assert card.locator("h3").inner_text() == "Volatility (annualised)"
        assert card.locator(".unit").inner_text() == "%"
        assert card.locator(".num").get_attribute("data-raw") == api["volatility"]
        assert Decimal(shown_decimal(card.locator(".num").inner_text())) == Decimal(api["volatility"])
        card.get_by_role("button", name="How Volatility (annualised) is computed").click()
        tip = card.locator(".tip")
        assert tip.is_visible()
        text = tip.inner_text()
        conv = api["conventions"]
        assert conv["std_kind"] in text and f"√{conv['annualisation_factor']}" in text
        assert f"calendar: {conv['calendar']}" in text and f"{conv['return_days']} daily returns" in text

    def test_cagr_is_na_with_the_reason_below_a_year(self, page, service, trader):
        sign_in_through_form(page, service.url, trader["email"])
        api = service.call("GET", "/trades/shadow/dashboard", trader)
        assert api["cagr"] is None and api["calmar_ratio"] is None  # the trades span 41 days
        assert int(api["conventions"]["window"]["days"]) < 365
        for key, label in (("cagr", "CAGR"), ("calmar_ratio", "Calmar ratio")):
            card = page.locator(f'[data-metric="{key}"]')
            assert card.locator(".num").inner_text().strip() == "n/a"
            assert "not available" in card.locator(".num").get_attribute("aria-label")
            card.get_by_role("button", name=f"How {label} is computed").click()
            why = card.locator(".tip .why")
            assert why.is_visible()
            assert "shorter than 365" in why.inner_text() and why.inner_text().startswith("n/a: the window is")
        # the equity base is stated under the cards and in the total return and drawdown tooltips
        base = api["conventions"]["equity_base"]
        assert page.locator("#equity-base").inner_text() == f"Equity base: {base}."
        for key in ("total_return", "max_drawdown"):
            assert base in page.locator(f"#tip-{key}").text_content()

    def test_a_day_without_return_shows_na_in_percent_mode(self, page, service):
        user = service.sign_up(new_email("ruin"))
        service.call("PUT", "/users/me/settings", user, json={"starting_capital": "1000"})
        s = sym()
        backtest_trade(service, user, symbol=s, strategy="s", entry="200", exit_="50", day=date(2024, 3, 4))
        backtest_trade(service, user, symbol=s, strategy="s", entry="50", exit_="51", day=date(2024, 3, 5))
        api = service.call("GET", "/trades/shadow/dashboard", user)
        day = next(d for d in api["daily_pnl"] if d["date"] == "2024-03-05")
        assert day["return_percent"] is None
        sign_in_through_form(page, service.url, user["email"])
        page.get_by_label("% (of equity)").check()
        page.wait_for_selector(".calendar[data-mode=pct]")
        cell = page.locator('.calendar .day[data-date="2024-03-05"]')
        assert cell.locator(".dv").inner_text() == "n/a"
        assert cell.get_attribute("data-value") == ""
        assert "no return" in cell.get_attribute("aria-label")
        assert "n/a" in page.locator("#cal-legend").inner_text()
        assert "no return" in page.locator("#cal-mode-note").inner_text()

    def test_a_rebuild_in_progress_is_announced(self, page, service, trader):
        note = "a rebuild of the aggregates into Europe/London is running; until it switches, days are close dates in America/New_York"

        def with_rebuild(route):
            response = route.fetch()
            body = response.text().replace('"conventions":{', '"conventions":{"rebuild":' + json.dumps(note) + ",", 1)
            route.fulfill(response=response, body=body)

        page.route("**/trades/shadow/dashboard*", with_rebuild)
        sign_in_through_form(page, service.url, trader["email"])
        banner = page.locator("#rebuild")
        assert banner.is_visible()
        text = banner.inner_text()
        assert text.startswith("Figures are being rebuilt for a new time zone; until then days are in America/New_York")
        assert note in text
        page.unroute("**/trades/shadow/dashboard*")
        banner.get_by_role("button", name="Check again").click()
        page.wait_for_selector("#rebuild", state="hidden")


class TestSettingsCalendarAndStrategyCapital:
    def test_the_settings_form_changes_the_calendar(self, page, service):
        user = service.sign_up(new_email("calendar"))
        s = sym()
        for offset, exit_ in ((0, "101"), (2, "99"), (5, "102.5")):
            backtest_trade(service, user, symbol=s, strategy="c", entry="100", exit_=exit_,
                           day=date(2024, 3, 4) + timedelta(days=offset))
        sign_in_through_form(page, service.url, user["email"])
        select = page.get_by_label("Trading calendar (sessions of the daily returns)")
        assert select.input_value() == "XNYS"
        before = service.call("GET", "/trades/shadow/dashboard", user)
        assert before["conventions"]["calendar"] == "XNYS"
        select.select_option("24/7")
        page.get_by_role("button", name="Save settings").click()
        page.wait_for_function("document.querySelector('#settings-result').textContent.startsWith('Saved')")
        assert "calendar 24/7" in page.locator("#settings-result").inner_text()
        assert service.call("GET", "/users/me/settings", user)["calendar"] == "24/7"
        after = service.call("GET", "/trades/shadow/dashboard", user)
        assert after["conventions"]["calendar"] == "24/7" and after["conventions"]["annualisation_factor"] == "365"
        page.wait_for_function("document.querySelector('#range').textContent.includes('24/7 calendar')")
        page.wait_for_selector("body[data-state=ready]")
        assert_cards_equal_api(page, service, user, "")
        assert "√365" in page.locator("#tip-volatility").text_content()

        # a name exchange-calendars does not know: the service's message, nothing saved
        select.select_option("other")
        page.get_by_label("Other calendar (exchange-calendars name, like XSWX)").fill("NOPE")
        page.get_by_role("button", name="Save settings").click()
        page.wait_for_function("document.querySelector('#settings-result').textContent.startsWith('Not saved')")
        assert "not a trading calendar" in page.locator("#settings-result").inner_text()
        assert service.call("GET", "/users/me/settings", user)["calendar"] == "24/7"

    def test_a_strategys_own_capital_is_used_when_filtered_on_it(self, page, service):
        user = service.sign_up(new_email("stratcap"))
        s = sym()
        backtest_trade(service, user, symbol=s, strategy="alpha", entry="100", exit_="150", day=date(2024, 3, 4))
        backtest_trade(service, user, symbol=s, strategy="beta", entry="100", exit_="90", day=date(2024, 3, 5))
        sign_in_through_form(page, service.url, user["email"])
        strategy = page.get_by_label("One of your strategies")
        assert sorted(strategy.locator("option").all_inner_texts()) == ["alpha", "beta"]
        strategy.select_option("alpha")
        page.wait_for_function("document.querySelector('#strategy-settings-result').textContent.includes('uses your starting capital')")
        page.get_by_label("Capital of this one (USD; empty: use yours)").fill("25000")
        page.get_by_role("button", name="Save strategy capital").click()
        page.wait_for_function("document.querySelector('#strategy-settings-result').textContent.startsWith('Saved')")
        assert service.call("GET", "/strategies/alpha/settings", user)["starting_capital"] == "25000.00"

        page.get_by_label("Strategy").fill("alpha")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_selector("body[data-state=ready][data-filters='strategy_id=alpha']")
        api = service.call("GET", "/trades/shadow/dashboard?strategy_id=alpha", user)
        assert api["total_return"] == "2.00"  # 500 / 25,000
        assert page.locator('[data-metric="total_return"] .num').get_attribute("data-raw") == api["total_return"]
        assert_cards_equal_api(page, service, user, "strategy_id=alpha")
        base = page.locator("#equity-base").inner_text()
        assert "strategy alpha" in base and "25000.00" in base and api["conventions"]["equity_base"] in base

        # back to the user's capital
        page.get_by_role("button", name="Use my capital").click()
        page.wait_for_function("document.querySelector('#strategy-settings-result').textContent.includes('uses your starting capital again')")
        page.wait_for_function("!document.querySelector('#equity-base').textContent.includes('strategy alpha')")
        assert service.call("GET", "/strategies/alpha/settings", user)["starting_capital"] is None
        page.wait_for_selector("body[data-state=ready]")
        assert_cards_equal_api(page, service, user, "strategy_id=alpha")


class TestIsolationAndScreens:
    def test_another_users_page_never_shows_them(self, page, service, trader):
        other = service.sign_up(new_email("other"))
        sign_in_through_form(page, service.url, other["email"])
        html = page.content()
        for s in trader["symbols"]:
            assert s not in html
        assert page.locator('[data-metric="total_pnl"] .num').get_attribute("data-raw") == "0.00"
        assert page.locator("#history tbody tr[data-id]").count() == 0

    @pytest.mark.parametrize("name,viewport", [("desktop", {"width": 1280, "height": 900}),
                                               ("phone", {"width": 390, "height": 844})])
    def test_screenshots_of_the_overview(self, browser, service, trader, name, viewport):
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        pg = context.new_page()
        try:
            sign_in_through_form(pg, service.url, trader["email"])
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"the page scrolls sideways at {viewport['width']} px ({width})"
            pg.mouse.move(0, viewport["height"] - 1)  # no tooltip under the pointer
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(SCREENSHOTS / f"overview-{name}.png"), full_page=False)
            pg.screenshot(path=str(SCREENSHOTS / f"full-{name}.png"), full_page=True)
        finally:
            context.close()


def test_the_pages_decimal_helpers():
    """web/src/money.js (unrealized P&L in BigInt, half-up cents) under node's test runner."""
    result = subprocess.run(["node", "--test", str(ROOT / "web/src/money.test.mjs")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pages_unrealized_pnl_matches_decimal_half_up_on_random_cases():
    """money.js against Python's Decimal (the service's arithmetic) on 2,000 random positions:
    (exit-side price - entry) x quantity x (+1 long, -1 short), ROUND_HALF_UP to the cent."""
    import json
    import random
    from decimal import ROUND_HALF_UP

    rng = random.Random(15)

    def dec(max_int: int, places: int) -> str:
        return f"{rng.randint(0, max_int)}.{rng.randint(0, 10 ** places - 1):0{places}d}"

    cases = []
    for _ in range(2000):
        side = rng.choice(["BUY", "SELL"])
        entry, bid, ask = dec(5000, rng.randint(1, 6)), dec(5000, rng.randint(1, 6)), dec(5000, rng.randint(1, 6))
        qty = dec(1000, rng.randint(0, 6)) if rng.random() < 0.7 else str(rng.randint(1, 500))
        exit_ = Decimal(bid if side == "BUY" else ask)
        pnl = ((exit_ - Decimal(entry)) * Decimal(qty) * (1 if side == "BUY" else -1)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)
        cases.append([side, qty, entry, bid, ask, f"{pnl + 0:.2f}"])
    script = (
        "import { unrealizedCents, centsToString } from './web/src/money.js';\n"
        "import { readFileSync } from 'node:fs';\n"
        "const cases = JSON.parse(readFileSync(0, 'utf8')); const bad = [];\n"
        "for (const [side, qty, entry, bid, ask, want] of cases) {\n"
        "  const got = centsToString(unrealizedCents(side, qty, entry, { bid, ask }));\n"
        "  if (got !== want) bad.push([side, qty, entry, bid, ask, want, got]); }\n"
        "console.log(JSON.stringify(bad.slice(0, 5)));\n"
    )
    out = subprocess.run(["node", "--input-type=module", "-e", script], input=json.dumps(cases),
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
