"""A class of 50 at once: concurrent users asking the app through its HTTP API.

    python bench/bench_class.py [--users 50] [--asks 1000] [--soak 2000]

Starts `python app.py` on a free port, then `--users` clients (one asyncio task each, one HTTP
connection each) ask `--asks` questions in all through the bare HTTP API (POST
/gradio_api/call/ask, then GET the event's result: what curl or a browser does), each client
asking its next question as soon as its last is answered. Prints the throughput and the p50 / p90
/ p99 round trip, then the server's resident memory after that, after `--soak` more asks (while
Gradio's bounded caches of events and sessions fill) and after `--soak` more again (steady state).

Targets (issue: a class of 50): p99 <= 1 s, >= 100 asks/s, memory growth <= 5% over 2,000 asks.
Figures, not a test: nothing fails. The clients run on the same machine as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import free_port, percentile, start_server, stop  # noqa: E402

STORIES = [
    ("Mary moved to the bathroom.\nJohn went to the hallway.\nMary travelled to the office.", "Where is Mary?"),
    ("Alice went to the kitchen.\nAlice picked up the book.\nAlice went to the library.", "Where is the book?"),
    (
        "Daniel picked up the football.\nDaniel went to the kitchen.\nDaniel took the milk there.",
        "What is Daniel carrying?",
    ),
]


def rss_kib(pid: int) -> int:
    """A process's resident memory in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def ask(http, story: str, question: str, session: str | None) -> dict:
    body = {"data": [story, question, "", 0], **({"session_hash": session} if session else {})}
    posted = await http.post("/gradio_api/call/ask", json=body)
    event = posted.json()["event_id"]
    streamed = await http.get(f"/gradio_api/call/ask/{event}")
    data = [line[5:] for line in streamed.text.splitlines() if line.startswith("data:")]
    return json.loads(data[-1])[0]


async def load(base: str, users: int, asks: int, sessions: bool = True) -> tuple[list[float], float, int]:
    """Round-trip seconds of every ask, the wall time, and how many answers came back wrong or empty.
    sessions: each user keeps one session, as a browser tab or a gradio_client Client does; else
    every ask opens a new one, as separate curl calls do."""
    import httpx

    remaining = iter(range(asks))
    times: list[float] = []
    failed = 0

    async def user(n: int, http: httpx.AsyncClient) -> None:
        nonlocal failed
        async with http:
            for i in remaining:
                story, question = STORIES[(n + i) % len(STORIES)]
                start = time.perf_counter()
                result = await ask(http, story, question, f"class-user-{n}" if sessions else None)
                times.append(time.perf_counter() - start)
                failed += bool(result.get("error")) or not result.get("answer")

    # the clients are made before the clock starts: each builds an SSL context (even for plain http),
    # tens of milliseconds of the load generator's own CPU on the server's two cores
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(users)]
    start = time.perf_counter()
    await asyncio.gather(*(user(n, http) for n, http in enumerate(clients)))
    return times, time.perf_counter() - start, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--asks", type=int, default=1000)
    parser.add_argument("--soak", type=int, default=2000, help="asks between the two memory readings")
    parser.add_argument("--new-sessions", action="store_true", help="every ask opens a session (bare curl calls)")
    args = parser.parse_args()
    sessions = not args.new_sessions
    port = free_port()
    proc, _ = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(load(base, args.users, 100, sessions))  # warm-up: models loaded, kernel built
        times, wall, failed = asyncio.run(load(base, args.users, args.asks, sessions))
        readings = [rss_kib(proc.pid)]
        for _ in range(2):  # the first soak lets the server's bounded caches fill; the second is steady state
            asyncio.run(load(base, args.users, args.soak, sessions))
            readings.append(rss_kib(proc.pid))
    finally:
        stop(proc)
    how = "a new session every ask" if args.new_sessions else "a session each"
    print(
        f"{args.asks} asks from {args.users} users ({how}) in {wall:.2f} s: {args.asks / wall:.1f} asks/s "
        f"(target >= 100); round trip p50 {statistics.median(times) * 1000:.0f} ms, "
        f"p90 {percentile(times, 0.9) * 1000:.0f} ms, p99 {percentile(times, 0.99) * 1000:.0f} ms (target <= 1000)"
        + (f"; {failed} failed" if failed else "")
    )
    first, settled, last = readings
    print(
        f"server memory: {first / 1024:.0f} MiB, {settled / 1024:.0f} MiB after {args.soak} more asks "
        f"({(settled - first) / first:+.1%}: Gradio's bounded caches filling), {last / 1024:.0f} MiB after "
        f"{args.soak} more ({(last - settled) / settled:+.1%}; target <= +5%)"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
