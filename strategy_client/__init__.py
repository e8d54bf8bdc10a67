"""The Strategy Service's client: replays strategies over market data through the HTTP API
(bars, strategies, the HTTP runner, the report, its CLI commands). Installed with the
``client`` extra; the service itself never imports it."""
