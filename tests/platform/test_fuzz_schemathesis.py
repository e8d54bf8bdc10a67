"""Fuzzing the running service from its own OpenAPI schema with schemathesis (a bounded,
deterministic run): no 5xx, and every response conforms to the schema."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backend.strategy_service.auth.emulator import make_emulator_token

BIN = Path(sys.executable).parent


def test_schemathesis_finds_no_server_error_and_no_schema_violation(project_id, settings, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GOOGLE_CLOUD_PROJECT": project_id}
    server = subprocess.Popen([str(BIN / "strategy-service"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        token = make_emulator_token("fuzzer", project_id)
        run = subprocess.run(
            [str(BIN / "st"), "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {token}",
             "-c", "not_a_server_error,response_schema_conformance", "-n", "25", "--generation-deterministic",
             "--no-color"],
            env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        counts = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
        assert counts and int(counts[1]) == int(counts[2]) > 200, run.stdout[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=10)
