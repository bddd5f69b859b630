"""Benchmark of the Gradio app: process start to serving, and round trips through the HTTP API.

    python bench/bench_app.py [--calls 50] [--runs 3]

Starts `python app.py` as a subprocess on a free port (`--runs` times), measures the seconds from
process start until the page answers, then times `--calls` calls to the "ask" endpoint of the last
server and prints the median and p90 of three ways to call it:

- gradio_client as is: `Client(url).predict(..., api_name="/ask")`. gradio_client 2.x opens a new
  httpx client for every request, and with it a new SSL context with the CA bundle loaded, even
  for a plain-http URL: that costs tens of milliseconds per call on a busy machine.
- gradio_client with one SSL context made once and reused (`ssl_verify=ssl.create_default_context()`;
  verification stays on), which leaves the client's own polling and the server.
- the bare HTTP API: POST /gradio_api/call/ask, then GET the event's result (what curl would do).

Then it times `--calls` calls to the "sentiment" endpoint over the bare HTTP API for each shipped
sentiment checkpoint (`sst-binary`: ten models averaged; `sst-fine`: four of them).

First, `--cold` times a fresh Space: app.py started with an empty kernel build folder and no data
folder, then one ask and one Sample sent the moment the page answers, while the fused kernel is
still compiling (the app answers with PyTorch's GRU until it is ready).

Targets: start <= 8 s, first answer on a cold start < 1 s, median round trip <= 100 ms. Figures,
not a test: nothing fails.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STORY = "Mary moved to the bathroom.\nJohn went to the hallway.\nJohn moved to the office."
QUESTION = "Where is John?"
SENTENCE = "The plot is thin, but the acting is superb."
SENTIMENT_CHECKPOINTS = ("sst-binary", "sst-fine")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, timeout: float = 120.0, env: dict | None = None) -> tuple[subprocess.Popen, float]:
    """Start app.py on a port (with `env` added to the environment); return the process and the
    seconds until GET / answered 200."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return proc, time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"app.py did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call, n: int) -> list[float]:
    for _ in range(5):  # warm-up
        call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return times


def raw_http_call(base: str, endpoint: str = "ask", inputs: tuple = (STORY, QUESTION, "", 0)):
    """One call of an endpoint through the bare HTTP API, with a kept-alive connection."""
    import httpx

    http = httpx.Client(base_url=base, timeout=30)

    def call() -> dict:
        event = http.post(f"/gradio_api/call/{endpoint}", json={"data": list(inputs)}).json()["event_id"]
        stream = http.get(f"/gradio_api/call/{endpoint}/{event}").text
        data = [line[5:] for line in stream.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])[0]

    return call


def report(name: str, times: list[float], endpoint: str = "ask") -> None:
    print(
        f"{endpoint} round trip, {name} (ms): median {statistics.median(times) * 1000:.1f}, "
        f"p90 {percentile(times, 0.9) * 1000:.1f} over {len(times)} calls"
    )


def cold_start() -> tuple[float, float, float]:
    """A fresh Space: app.py with an empty kernel build folder and no data folder. Returns the
    seconds to serving, then of the first ask and the first Sample over the bare HTTP API, both
    sent the moment the page answers (the fused kernel is still compiling then)."""
    with tempfile.TemporaryDirectory() as empty:
        env = {"TORCH_EXTENSIONS_DIR": str(Path(empty) / "extensions"), "DMN_DATA_DIR": str(Path(empty) / "no-data")}
        port = free_port()
        proc, serving = start_server(port, env=env)
        base = f"http://127.0.0.1:{port}/"
        try:
            ask, sample = raw_http_call(base), raw_http_call(base, "sample", (2,))
            t = time.perf_counter()
            answer = ask()["answer"]
            first_answer = time.perf_counter() - t
            t = time.perf_counter()
            sample()
            first_sample = time.perf_counter() - t
        finally:
            stop(proc)
    print(
        f"cold start: serving after {serving:.2f} s, first ask {first_answer * 1000:.0f} ms -> {answer!r}, "
        f"first Sample {first_sample * 1000:.0f} ms"
    )
    return serving, first_answer, first_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="timed ask calls")
    parser.add_argument("--runs", type=int, default=3, help="server starts to time")
    parser.add_argument("--cold", type=int, default=2, help="cold starts to time (empty kernel folder, no data)")
    args = parser.parse_args()

    colds = [cold_start() for _ in range(args.cold)]

    from gradio_client import Client

    startups = []
    proc = None
    for run in range(args.runs):
        if proc is not None:
            stop(proc)
        port = free_port()
        proc, seconds = start_server(port)
        startups.append(seconds)
        print(f"start {run + 1}: serving after {seconds:.2f} s")
    base = f"http://127.0.0.1:{port}/"
    try:
        client = Client(base, verbose=False, analytics_enabled=False)
        first = time.perf_counter()
        result = client.predict(STORY, QUESTION, "", 0, api_name="/ask")
        print(f"first ask: {(time.perf_counter() - first) * 1000:.0f} ms -> {result['answer']!r}")
        default = timed(lambda: client.predict(STORY, QUESTION, "", 0, api_name="/ask"), args.calls)
        context = ssl.create_default_context()
        reusing = Client(base, verbose=False, analytics_enabled=False, ssl_verify=context)
        reused = timed(lambda: reusing.predict(STORY, QUESTION, "", 0, api_name="/ask"), args.calls)
        call = raw_http_call(base)
        assert call()["answer"] == result["answer"]
        raw = timed(call, args.calls)
        sentiments = {
            checkpoint: timed(raw_http_call(base, "sentiment", (SENTENCE, checkpoint)), args.calls)
            for checkpoint in SENTIMENT_CHECKPOINTS
        }
    finally:
        stop(proc)
    print(
        f"startup (s): median {statistics.median(startups):.2f}, min {min(startups):.2f}, "
        f"max {max(startups):.2f} over {len(startups)} starts (target <= 8)"
    )
    if colds:
        serving, answers, samples = zip(*colds, strict=True)
        print(
            f"cold start (empty kernel folder, no data): serving median {statistics.median(serving):.2f} s, "
            f"first ask median {statistics.median(answers) * 1000:.0f} ms (max {max(answers) * 1000:.0f}; "
            f"target < 1000), first Sample median {statistics.median(samples) * 1000:.0f} ms over {len(colds)} starts"
        )
    report("gradio_client as is", default)
    report("gradio_client reusing one SSL context", reused)
    report("bare HTTP API", raw)
    print("target: median <= 100 ms")
    for checkpoint, times in sentiments.items():
        report(f"{checkpoint}, bare HTTP API", times, "sentiment")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
