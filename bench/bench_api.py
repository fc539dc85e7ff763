"""`POST /api/v1/classifications` under load: 50 concurrent clients from a second process.

Starts `sivug run` (embedded PostgreSQL, offline engine) in a temporary data directory, takes
the demo API key it prints on first start, warms the engine up, then runs `wrk` (C, one
process, 2 threads) over 50 connections, rotating through ~2,000 mostly distinct
descriptions. Targets (issue 5): p95 <= 100 ms and >= 200 requests/s on a 2-core machine.

Two loads: closed loop (`--rate 0`, the default: each connection sends its next request as
soon as the last is answered, so throughput is the maximum and latency is queueing) and open
loop (`--rate N`: the connections together offer N requests/s at fixed intervals, a client
population sending at that rate). Latency is measured by wrk from each request's send; when
the server falls behind, requests are not sent at their slot (coordinated omission), so the
open-loop figures hold only while the served rate equals the offered rate.

After the run it counts the rows stored (through the CSV export; fewer rows than answered
requests fails the run, and so does any error in the server's log) and, as a reference for
the machine's speed that day, runs the same wrk against `/healthz` (this machine has
measured anywhere from 2,500 to 10,000 req/s there). It also prints how wrk's connections
were spread over the web workers: each worker serves the connections it accepted, so in a
closed loop the one holding more (28 of 50, say) answers them more slowly, and p95 is that
worker's.

Run: `.venv/bin/python bench/bench_api.py [--seconds 20] [--connections 50] [--rate 200]`
(needs `wrk`: `apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: find bench/

from bench.bench_engine_speed import descriptions  # noqa: E402

DESCRIPTIONS = [
    "Men's 100% cotton crew neck T-shirt, navy, size L",
    "Stainless steel insulated water bottle 750ml",
    "Wireless Bluetooth earbuds with charging case",
    "Women's leather handbag with shoulder strap",
    "Ceramic coffee mug 350ml, dishwasher safe",
    "Kids wooden building blocks toy set, 100 pieces",
    "USB-C to USB-C charging cable 2m, braided",
    "Organic green tea, 100 tea bags",
    "Polyester hiking backpack 30L",
    "LED desk lamp with dimmer",
    "gift",
    "Running shoes with rubber soles and textile uppers",
]

LUA = """
local bodies = {%s}
local rate = %d  -- requests/s this thread offers; 0: as fast as possible (closed loop)
local i = 0
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } sivug_timespec;
int clock_gettime(int clk_id, sivug_timespec *tp);
]]
local ts = ffi.new("sivug_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local next_slot = nil
request = function()
  i = i + 1
  return wrk.format("POST", "/api/v1/classifications", nil, bodies[(i %% #bodies) + 1])
end
if rate > 0 then
  -- Open loop: the thread's connections take turns at fixed slots, 1/rate s apart; a
  -- connection waits for the next free slot (no wait when the server is behind).
  delay = function()
    local now = now_ms()
    if next_slot == nil then next_slot = now end
    next_slot = math.max(next_slot + 1000 / rate, now - 1000)
    return math.max(0, next_slot - now)
  end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%.3f %%d\\n",
    summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def connections_per_process(port: int) -> list[int]:
    """How the load's connections are spread over the web workers (each serves its own: the
    worker holding more of them answers them more slowly), most first."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    counts: dict[str, int] = {}
    for pid in re.findall(r"pid=(\d+)", listing):
        counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--web-workers", type=int, default=2, help="API processes (one per core)")
    parser.add_argument(
        "--rate",
        type=int,
        default=0,
        help="Offer this many requests/s in all (open loop); 0: as fast as possible.",
    )
    parser.add_argument(
        "--distinct", type=int, default=2000, help="Generated descriptions to rotate through."
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(
            SIVUG_DATA_DIR=tmp,
            SIVUG_PORT=str(port),
            SIVUG_LOG_LEVEL="warning",
            SIVUG_RATE_LIMIT_PER_KEY=str(10**9),
            SIVUG_RATE_LIMIT_PER_ORG=str(10**9),
            SIVUG_WEB_WORKERS=str(args.web_workers),
        )
        out = Path(tmp) / "stdout.txt"
        errors_log = Path(tmp) / "stderr.txt"
        with out.open("wb") as stdout, errors_log.open("wb") as stderr:
            server = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "sivug"), "run", "--no-worker"],
                env=env,
                stdout=stdout,
                stderr=stderr,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            found = re.search(r"(sk_sivug_[A-Za-z0-9_-]+)", out.read_text())
            if not found:
                raise SystemExit("no demo API key printed on first start")
            headers = {"Authorization": f"Bearer {found.group(1)}"}
            for description in DESCRIPTIONS:  # warm-up: builds the engine, fills pools
                response = httpx.post(
                    f"{base}/api/v1/classifications",
                    json={"description": description},
                    headers=headers,
                    timeout=30,
                )
                response.raise_for_status()
            # Mostly distinct descriptions, so nothing is measured warm that would be cold
            # in use (the engine and PostgreSQL see a different text almost every time).
            texts = DESCRIPTIONS + descriptions(args.distinct)
            bodies = ",".join(json.dumps(json.dumps({"description": d})) for d in texts)
            script = Path(tmp) / "post.lua"
            script.write_text(LUA % (bodies, args.rate // 2))  # wrk runs two threads
            load = subprocess.Popen(
                [
                    "wrk",
                    "-t2",
                    f"-c{args.connections}",
                    f"-d{args.seconds}s",
                    "-H",
                    f"Authorization: {headers['Authorization']}",
                    "-H",
                    "Content-Type: application/json",
                    "-s",
                    str(script),
                    base,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(min(2.0, args.seconds / 2))
            split = connections_per_process(port)
            result, _ = load.communicate()
            if load.returncode != 0:
                raise SystemExit(f"wrk failed ({load.returncode})")
            # Every answered request must have left its row: count them through the export.
            export = httpx.get(
                f"{base}/api/v1/classifications/export.csv", headers=headers, timeout=120
            )
            export.raise_for_status()
            stored = len(list(csv.reader(io.StringIO(export.text)))) - 1 - len(DESCRIPTIONS)
            # The machine's speed that day: the same wrk against /healthz (no work behind it).
            reference = subprocess.run(
                ["wrk", "-t2", f"-c{args.connections}", "-d5s", f"{base}/healthz"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        except Exception:
            print(errors_log.read_text(errors="replace")[-8000:], file=sys.stderr)
            raise
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
        logged_errors = [
            line
            for line in errors_log.read_text(errors="replace").splitlines()
            if '"level": "error"' in line
        ]
    line = next(row for row in result.splitlines() if row.startswith("RESULT"))
    _, requests, micros, p50, p95, p99, worst, errors = line.split()
    seconds = int(micros) / 1e6
    print(
        f"POST /api/v1/classifications, {args.web_workers} web workers, "
        f"{args.connections} connections, "
        f"{f'offered {args.rate}/s' if args.rate else 'closed loop'}, {seconds:.0f} s: "
        f"{int(requests) / seconds:.0f} requests/s, p50 {float(p50):.1f} ms, "
        f"p95 {float(p95):.1f} ms, p99 {float(p99):.1f} ms, max {float(worst):.1f} ms, "
        f"errors {errors} (targets: p95 <= 100 ms, >= 200 requests/s)"
    )
    print(f"rows stored: {stored} for {requests} answered requests")
    print(f"connections per web worker: {' / '.join(map(str, split)) or 'unknown (no ss)'}")
    healthz = re.search(r"Requests/sec:\s+([0-9.]+)", reference)
    print(f"machine reference: GET /healthz {float(healthz.group(1)) if healthz else 0:.0f} req/s")
    if stored < int(requests):
        raise SystemExit("fewer rows stored than requests answered")
    if logged_errors:
        print("\n".join(line[-3000:] for line in logged_errors[:5]), file=sys.stderr)
        raise SystemExit(f"the server logged {len(logged_errors)} errors during the run")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
