"""The layering the docs promise, checked: import contracts (import-linter, configured in
pyproject.toml), the server's dependencies, one error class per code, and typed OpenAPI
responses. No emulator needed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from backend.strategy_service.core.errors import ServiceError
from backend.strategy_service.main import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_server_install_carries_no_client_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("<")[0].split("[")[0].split("=")[0].strip() for dep in project["dependencies"]}
    assert not names & {"plotly", "rich", "httpx"}, names
    assert {"plotly", "rich"} <= {d.split(">")[0] for d in project["optional-dependencies"]["client"]}


def _all_errors(cls=ServiceError):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_errors(sub)


def test_one_class_per_code_and_status():
    seen: dict[tuple[str, int], type] = {}
    for cls in _all_errors():
        key = (cls.code, cls.status_code)
        assert key not in seen, f"{cls.__name__} and {seen[key].__name__} share {key}"
        seen[key] = cls
        assert cls.description and cls.__doc__, cls.__name__
    codes = {code for code, _ in seen}
    assert {"trade_not_found", "quote_stale", "storage_unavailable", "validation_error"} <= codes


def test_every_route_documents_its_error_codes_and_typed_bodies():
    schema = create_app().openapi()
    execute = schema["paths"]["/trades/execute"]["post"]["responses"]
    assert "`quote_stale`" in execute["422"]["description"] and "`unauthenticated`" in execute["401"]["description"]
    assert "quote_stale" in execute["422"]["content"]["application/json"]["examples"]
    assert "`trade_not_found`" in schema["paths"]["/trades/close-shadow"]["post"]["responses"]["404"]["description"]
    for path in ("/trades/shadow/dashboard", "/api/metrics"):
        ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        model = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert len(model["properties"]) >= 7, path
    dashboard = schema["components"]["schemas"]["DashboardOut"]["properties"]
    assert dashboard["total_pnl"]["type"] == "number" and "conventions" in dashboard


def test_the_api_docs_list_every_error_code():
    import importlib

    for domain in ("trades", "quotes", "users", "performance"):
        importlib.import_module(f"backend.strategy_service.{domain}.errors")
    listed = (ROOT / "docs" / "api.md").read_text()
    never_sent = {"conflict", "invalid_request", "service_unavailable"}  # status bases only
    missing = {cls.code for cls in _all_errors() if cls.code not in never_sent and f"`{cls.code}`" not in listed}
    assert not missing, f"docs/api.md lacks {sorted(missing)}"
