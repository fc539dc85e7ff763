"""Foundation benchmarks: `sivug run` to the first 200 from /readyz, and /healthz throughput.

Run: `.venv/bin/python bench/bench_startup.py` (uses `wrk` for the load if it is installed:
`apt-get install wrk`; otherwise a Python client in a second process).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SIVUG = [str(ROOT / ".venv" / "bin" / "sivug"), "run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SIVUG_DATA_DIR=str(data_dir), SIVUG_PORT=str(port), SIVUG_LOG_LEVEL="warning")
    started = time.perf_counter()
    process = subprocess.Popen(SIVUG, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/readyz"
    while True:
        if process.poll() is not None:
            raise SystemExit("sivug run exited before it was ready")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)


def healthz_throughput(port: int) -> str:
    url = f"http://127.0.0.1:{port}/healthz"
    if shutil.which("wrk"):
        out = subprocess.run(
            ["wrk", "-t2", "-c50", "-d10s", "--latency", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
        p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
        return (
            f"/healthz (wrk, 50 connections, 10 s): {rps.group(1) if rps else '?'} req/s, "
            f"p50 {p50.group(1) if p50 else '?'}, p99 {p99.group(1) if p99 else '?'}"
        )
    return "wrk not installed: apt-get install wrk"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port = free_port()
        process, cold = start(data, port)  # initdb, migrations, HS 2022 load, demo seed
        stop(process)
        warm_times = []
        for _ in range(3):
            process, warm = start(data, port)
            warm_times.append(warm)
            stop(process)
        process, _ = start(data, port)
        try:
            load = healthz_throughput(port)
        finally:
            stop(process)
    print(f"first start (initdb + migrate + load HS 2022): {cold:.2f} s to the first /readyz 200")
    print(
        f"later starts (embedded PostgreSQL already initialised): median "
        f"{statistics.median(warm_times):.2f} s, max {max(warm_times):.2f} s over 3"
    )
    print(load)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
