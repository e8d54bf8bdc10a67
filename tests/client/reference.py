"""The reference backtester the replay is compared with: backtesting.py (PyPI
``backtesting``, kernc/backtesting.py), driven by the same strategy object as the replay,
so both see the same signals, stops and targets. docs/replay.md explains each setting.

How backtesting.py is made to fill where the replay fills:

- ``trade_on_close=True``: a market order placed in ``next()`` of bar i fills at bar i's
  close (it is processed when bar i+1 arrives, with ``Close[-2]`` and bar i as its time),
  as the replay fills at the close of its signal bar.
- Integer ``size`` in units: the replay sends the same ``quantity`` (backtesting.py trades
  whole units), so no sizing from cash or margin; ``cash`` is large enough that no order
  is ever refused for margin.
- Stops and targets are backtesting.py's own ``sl=`` / ``tp=`` bracket orders, checked from
  the bar after the entry: a stop fills at ``min(open, stop)`` for a long (``max`` for a
  short), a target at ``max(open, target)`` (``min``); its stop-loss order is processed
  before its take-profit, so the stop wins within one bar. That is the replay's
  :func:`strategy_client.replay.bar_exit`.
- A signal exit first removes the trade's ``sl``/``tp`` (the replay closed it at the
  signal bar's close; a bracket left in place would be processed first on the next bar),
  then ``trade.close()``. ``exclusive_orders`` is not used: it closes the trade the same
  way but leaves its bracket orders in place.
- End of data: backtesting.py's ``finalize_trades`` re-runs the last bar, which with
  ``trade_on_close`` fills at the previous bar's close. So the frame gets one extra bar, a
  copy of the last close (open = high = low = close), and the last real bar's ``next()``
  closes the position; it fills at the last close. That extra bar reaches no stop and no
  target: a long's stop below the last close was not hit on the last bar, so it is below
  that bar's low, itself at most the close (mirror for a short and for targets).
- After a stop or a target exit, no re-entry in the same direction until the signal
  changes: the replay's rule, followed here by the wrapper.
- backtesting.py calls ``next()`` from the second bar on (the first has no previous close
  to fill at), while the replay asks the strategy from the first: a compared strategy must
  be flat on the first bar (ma-cross is flat before ``slow`` bars).

Commission: ``commission=rate`` or ``(fixed, rate)``: each fill pays ``fixed + |size| x
price x rate``, on the entry fill and on the exit fill; ``Trade.pl`` and
``_trades['PnL']`` are net of both. The service's equivalent model is
``commission_per_order = fixed``, ``commission_percent = 100 x rate``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import backtesting
import pandas as pd

from strategy_client.replay import Bar, MovingAverageCrossover

CENT = Decimal("0.01")
#: Cash of the reference account, far above any position, so margin never refuses an order.
REFERENCE_CASH = 1_000_000_000


def usd(value: float) -> Decimal:
    """A float of the reference tool as USD to the cent: ``Decimal(str(x))`` (the float's
    shortest repr, no binary noise), then ROUND_HALF_UP to the cent. This is the only place
    a float becomes money, at the comparison edge."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def price(value: float) -> Decimal:
    """A float price of the reference tool as the decimal it was made from (shortest repr)."""
    return Decimal(str(value))


@dataclass
class TickCrossover(MovingAverageCrossover):
    """The built-in ma-cross with its stop and target rounded to the instrument's price
    ``tick`` (half up), as an exchange would: every fill price then has the data's own
    digits, so with the commission settings the comparison uses, every gross P&L and every
    commission is a whole number of cents in exact arithmetic (no rounding on either side)."""

    tick: Decimal = Decimal("0.01")

    def stop_loss(self, bars: Sequence[Bar], side: str) -> Decimal | None:
        stop = super().stop_loss(bars, side)
        return None if stop is None else stop.quantize(self.tick, rounding=ROUND_HALF_UP)

    def take_profit(self, bars: Sequence[Bar], side: str) -> Decimal | None:
        target = super().take_profit(bars, side)
        return None if target is None else target.quantize(self.tick, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ReferenceTrade:
    """One closed trade of backtesting.py, converted at the edge: days, side, size, prices
    (exact decimals of the floats' reprs) and USD to the cent."""

    entry_day: date
    exit_day: date
    side: str
    size: int
    entry_price: Decimal
    exit_price: Decimal
    gross: Decimal  # size x (exit - entry), to the cent
    commission: Decimal  # entry + exit, to the cent
    net: Decimal  # _trades['PnL'], to the cent


def frame(bars: Sequence[Bar]) -> pd.DataFrame:
    """The OHLCV frame backtesting.py reads, plus one extra bar repeating the last close
    (see the module docstring: the end-of-data close fills on it at the last close)."""
    last = bars[-1]
    rows = [(b.day, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    rows.append((last.day + timedelta(days=1), last.close, last.close, last.close, last.close, Decimal(0)))
    return pd.DataFrame(
        {"Open": [float(r[1]) for r in rows], "High": [float(r[2]) for r in rows], "Low": [float(r[3]) for r in rows],
         "Close": [float(r[4]) for r in rows], "Volume": [float(r[5]) for r in rows]},
        index=pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows]),
    )


def reference_trades(bars: Sequence[Bar], make_strategy: Callable[[], Any], *, size: int,
                     commission: float | tuple[float, float]) -> list[ReferenceTrade]:
    """Run the replay's signals over ``bars`` through backtesting.py and return its closed
    trades in order.

    Args:
        bars: one symbol's bars, in date order (the replay's).
        make_strategy: builds the same strategy object the replay uses (fresh state).
        size: units per entry (the replay's ``quantity``).
        commission: backtesting.py's ``commission``: a rate, or ``(fixed USD, rate)``.

    Returns:
        The closed trades, entry order (one position at a time, so also exit order).
    """
    bars = list(bars)
    real = len(bars)

    class Wrapper(backtesting.Strategy):
        def init(self) -> None:
            self.signal = make_strategy()
            self.have = 0  # what the wrapper holds: -1, 0, 1
            self.exited = 0  # side of the last stop or target exit, until the signal changes

        def next(self) -> None:
            i = len(self.data) - 1
            if i >= real:
                return  # the extra bar: nothing to decide
            if self.have and not self.position:  # its stop or target filled during this bar
                self.exited, self.have = self.have, 0
            window = bars[: i + 1]
            want = int(self.signal.target(window)) if i < real - 1 else 0
            if want != self.exited:
                self.exited = 0
            if want == self.have:
                return
            if self.have:
                for trade in self.trades:
                    trade.sl = None  # cancel the bracket before the close (module docstring)
                    trade.tp = None
                    trade.close()
                self.have = 0
            if want and not self.exited:
                side = "BUY" if want > 0 else "SELL"
                stop = self.signal.stop_loss(window, side) if hasattr(self.signal, "stop_loss") else None
                target = self.signal.take_profit(window, side) if hasattr(self.signal, "take_profit") else None
                order = self.buy if want > 0 else self.sell
                order(size=size, sl=float(stop) if stop is not None else None,
                      tp=float(target) if target is not None else None)
                self.have = want

    test = backtesting.Backtest(frame(bars), Wrapper, cash=REFERENCE_CASH, commission=commission,
                                trade_on_close=True, hedging=False, exclusive_orders=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a refused order or a dubious bracket fails the test
        stats = test.run()
    out = []
    for row in stats["_trades"].itertuples():
        out.append(ReferenceTrade(
            entry_day=row.EntryTime.date(), exit_day=row.ExitTime.date(), side="BUY" if row.Size > 0 else "SELL",
            size=abs(int(row.Size)), entry_price=price(row.EntryPrice), exit_price=price(row.ExitPrice),
            gross=usd(row.Size * (row.ExitPrice - row.EntryPrice)), commission=usd(row.Commission), net=usd(row.PnL),
        ))
    return out
