"""`sivug run` on its embedded defaults, as `make run` starts it on a fresh machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "sivug run exited early"
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered 200")


def test_run_serves_with_embedded_postgres_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SIVUG_DATA_DIR=str(tmp_path), SIVUG_PORT=str(port), SIVUG_ENV="local")
    process = subprocess.Popen(
        [sys.executable, "-m", "sivug", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = _wait_ready(f"http://127.0.0.1:{port}/readyz", process, timeout=60)
        assert ready.json()["status"] == "ready"
        children = psutil.Process(process.pid).children(recursive=True)
        assert any("worker" in " ".join(c.cmdline()) for c in children), "no worker beside it"
        postmaster = (tmp_path / "postgres" / "postmaster.pid").read_text().split()[0]
        postgres = psutil.Process(int(postmaster))
        assert postgres.is_running()
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(timeout=60)
    _, alive = psutil.wait_procs([*children, postgres], timeout=30)
    assert not alive, f"still running after Ctrl-C: {[p.pid for p in alive]}"
