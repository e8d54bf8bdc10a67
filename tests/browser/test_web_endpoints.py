"""The dashboard's HTTP side, in-process (no browser): the page, its assets, its config."""

from __future__ import annotations

from backend.strategy_service.web import endpoints


class TestDashboardPage:
    async def test_the_page_is_public_html_that_loads_the_bundle(self, client):
        r = await client.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/app.js">' in r.text

    async def test_without_a_bundle_the_page_says_how_to_build_it(self, client, monkeypatch, tmp_path):
        monkeypatch.setattr(endpoints, "STATIC_DIR", tmp_path)
        r = await client.get("/")
        assert r.status_code == 503
        assert "scripts/setup" in r.text


class TestStaticAssets:
    async def test_gzip_when_accepted(self, client):
        r = await client.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-type"].startswith("text/javascript")

    async def test_unknown_or_escaping_names_are_404(self, client):
        for name in ("nope.js", "..%2Fendpoints.py", ".hidden"):
            r = await client.get(f"/static/{name}")
            assert r.status_code == 404, name


class TestConfig:
    async def test_config_names_the_project_and_the_emulators(self, client, settings):
        body = (await client.get("/web/config.json")).json()
        assert body["project_id"] == settings.GOOGLE_CLOUD_PROJECT
        assert body["auth_emulator_url"] == f"http://{settings.FIREBASE_AUTH_EMULATOR_HOST}"
        assert body["firestore_emulator_host"] == settings.FIRESTORE_EMULATOR_HOST
        assert body["api_key"] and body["google_sign_in"] is False

    def test_production_config_has_no_emulator(self):
        from backend.strategy_service.config import Settings

        cfg = endpoints.web_config(Settings(ENV="production", GOOGLE_CLOUD_PROJECT="acme-prod", FIRESTORE_EMULATOR_HOST=None,
                                            FIREBASE_AUTH_EMULATOR_HOST=None, FIREBASE_WEB_API_KEY="AIza-test"))
        assert cfg["auth_emulator_url"] is None and cfg["firestore_emulator_host"] is None
        assert cfg["auth_domain"] == "acme-prod.firebaseapp.com" and cfg["api_key"] == "AIza-test"
