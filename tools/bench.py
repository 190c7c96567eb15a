"""``make bench``: throughput, latency and page weight of the production shape.

Starts ``make preview``'s production shape (tools/preview.py: nginx serving
the frozen, precompressed build in front of gunicorn on its loopback port,
which the bench also loads directly), and in the same run a bare nginx serving the same
bytes as our topic page as one static file (the machine's limit). ``wrk``
loads each at 1, 16 and 64 connections. gunicorn is measured on its own: the
topic page through Flask's full request cycle, rendered per request (nginx
serves the frozen copy to readers), with a latency target rather than a
ratio. Prints a table, the targets, the page weight of every page, and one
JSON line for scripts (docs/performance.md has the figures). Everything it
starts, it stops.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from urllib.parse import urlencode

from app.appointments.forms import AppointmentForm
from tools import preview
from tools.page_weight import MAX_REQUESTS
from tools.page_weight import MAX_TRANSFER_BYTES
from tools.page_weight import measure

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = (1, 16, 64)
ROUNDS = 2
TOPIC = {"topic-en": "/en/immunotherapy", "topic-es": "/es/inmunoterapia"}
FORM_PATH = "/en/request-appointment"
# The valid appointment request to POST, field name -> value (the CSRF token
# is added by tools/bench_post.lua): each one goes through the outbox
# (committed with synchronous=FULL) and on to the SMTP sink, as a patient's
# would.
POST_FIELDS: dict[str, str] = AppointmentForm.example_post()
# Issue 8's targets, at TARGET_CONNECTIONS.
TARGET_CONNECTIONS = 16
# The topic page through the preview's nginx (security headers, language
# cookie, access log) against a bare nginx serving the same bytes.
TARGET_RATIO_TO_BARE_NGINX = 0.9
# The topic page from gunicorn alone, rendered per request through Flask's
# full request cycle.
TARGET_P99_MS = 30.0
# The durable form POST (each one committed to the outbox and emailed).
TARGET_POST_RPS = 100.0
# The settings preview.running gives gunicorn (gunicorn.conf.py, which reads
# app/gunicorn_conf.py), as in production.
GUNICORN_SETTINGS = ["-c", "python:app.gunicorn_conf"]
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    non_2xx_3xx: int


def main() -> None:
    """Run every scenario and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per run")
    args = parser.parse_args()
    # A polite kill unwinds the ExitStack too, so no server outlives the bench.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    ensure_tools()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        tmp.chmod(0o755)  # nginx workers may run as another user
        run(stack, tmp, args.duration)


def ensure_tools() -> None:
    """Install wrk and nginx from Debian when they are missing."""
    missing = [
        package
        for command, package in (("wrk", "wrk"), ("nginx", "nginx-light"))
        if not shutil.which(command) and not Path("/usr/sbin", command).exists()
    ]
    if not missing:
        return
    print(f"Installing {', '.join(missing)} with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )


def run(stack: contextlib.ExitStack, tmp: Path, duration: int) -> None:
    """Start the servers, load them, report."""
    machine = machine_info()
    print(f"Machine: {machine['cpu']} x {machine['nproc']}, load {machine['load']}")
    gunicorn_settings = GUNICORN_SETTINGS
    print(f"gunicorn: {' '.join(gunicorn_settings)}; wrk: {duration}s per run")

    sink = CountingHandler()
    production = stack.enter_context(
        preview.running(
            free_port(),
            tmp / "preview",
            # wrk is one client sending hundreds of POSTs a second; the
            # per-client limit would (rightly) answer 429.
            settings={"FLASK_RATELIMIT_ENABLED": "false"},
            smtp_handler=sink,
        )
    )
    ours_nginx, ours_app = production.url, f"http://{production.app_bind}"
    page = fetch(ours_nginx + TOPIC["topic-en"])
    (tmp / "page.html").write_bytes(page)
    rendered = fetch(ours_app + TOPIC["topic-en"])
    nginx = stack.enter_context(start_nginx(tmp, TOPIC["topic-en"]))
    if fetch(nginx + TOPIC["topic-en"]) != page:
        raise SystemExit("bare nginx does not serve the same bytes as our page")
    print(f"Topic page: {len(page)} bytes from nginx, {len(rendered)} from gunicorn.\n")

    scenarios = {
        "nginx-topic": Scenario(ours_nginx + TOPIC["topic-en"]),
        "nginx-topic-br": Scenario(
            ours_nginx + TOPIC["topic-en"], ["-H", "Accept-Encoding: br, gzip"]
        ),
        "bare-nginx": Scenario(nginx + TOPIC["topic-en"]),
        "app-topic": Scenario(ours_app + TOPIC["topic-en"]),
        "app-topic-es": Scenario(ours_app + TOPIC["topic-es"]),
        "app-form": Scenario(ours_app + FORM_PATH),
        "app-form-post": Scenario(
            ours_app,
            ["-s", str(ROOT / "tools" / "bench_post.lua")],
            ["--", FORM_PATH, urlencode(POST_FIELDS)],
        ),
    }
    results = measure_all(scenarios, duration)

    weights = {path: measure(ours_nginx + path) for path in sitemap_paths(ours_nginx)}
    machine["load_after"] = machine_info()["load"]
    report(machine, gunicorn_settings, duration, results, weights)
    print(f"SMTP sink received {sink.received} emails.")


@dataclass(frozen=True)
class Scenario:
    """What wrk loads: a URL, wrk options, and arguments for a wrk script."""

    url: str
    options: list[str] = field(default_factory=list)
    script_args: list[str] = field(default_factory=list)


def measure_all(
    scenarios: dict[str, Scenario], duration: int
) -> dict[str, dict[int, Result]]:
    """Every scenario at every connection count, best of ROUNDS.

    The machine is shared, so other load comes and goes: scenarios take turns
    (ours right next to its references), and each keeps its best round.
    """
    for scenario in scenarios.values():
        wrk(scenario, 16, 1)  # warm-up, not counted
    results: dict[str, dict[int, Result]] = {name: {} for name in scenarios}
    for round_number in range(1, ROUNDS + 1):
        for connections in CONNECTIONS:
            for name, scenario in scenarios.items():
                result = wrk(scenario, connections, duration)
                best = results[name].get(connections)
                if best is None or result.rps > best.rps:
                    results[name][connections] = result
            print(f"  round {round_number}: {connections} connections", flush=True)
    return results


def machine_info() -> dict[str, str | int]:
    """What the figures came from."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": cpu,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
    }


class CountingHandler:
    """An SMTP sink that only counts the messages the site sends."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        """Accept and count."""
        self.received += 1
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def start_nginx(tmp: Path, path: str) -> Iterator[str]:
    """nginx with its own config, serving the saved page at ``path``."""
    port = free_port()
    conf = tmp / "nginx.conf"
    workers = os.cpu_count() or 2
    conf.write_text(
        f"""
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        location = {path} {{
            default_type "text/html; charset=utf-8";
            alias {tmp}/page.html;
        }}
    }}
}}
"""
    )
    (tmp / "page.html").chmod(0o644)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [
        nginx,
        "-p",
        str(tmp),
        "-c",
        str(conf),
        "-e",
        str(tmp / "nginx-error.log"),
        "-g",
        "daemon off;",
    ]
    with process("nginx", command, tmp) as proc:
        yield wait_ready(proc, tmp / "nginx.log", f"http://127.0.0.1:{port}", path)


@contextlib.contextmanager
def process(name: str, command: list[str], tmp: Path, **options) -> Iterator:
    """Run ``command`` in its own process group; always stop it afterwards."""
    log_path = tmp / f"{name}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **options
    )
    try:
        yield proc
    finally:
        # The group we created: the server and the workers it forked.
        preview.stop(proc)
        log.close()


def wait_ready(proc: subprocess.Popen, log: Path, base: str, path: str) -> str:
    """``base`` once it answers 200 at ``path``; its log if it dies first."""
    name = log.stem
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            fetch(base + path)
            return base
        time.sleep(0.2)
    raise SystemExit(f"{name} did not answer within 30 s")


def fetch(url: str) -> bytes:
    """The body at ``url`` (no compression asked), or an error if not 200."""
    host, _, path = url.removeprefix("http://").partition("/")
    connection = http.client.HTTPConnection(host, timeout=10)
    try:
        connection.request("GET", "/" + path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise http.client.HTTPException(f"{url}: {response.status}")
        return body
    finally:
        connection.close()


def wrk(scenario: Scenario, connections: int, duration: int) -> Result:
    """One wrk run; threads never outnumber connections (at most 2)."""
    threads = min(2, connections)
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=5s",
        "--latency",
        *scenario.options,
        scenario.url,
        *scenario.script_args,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(output.stdout)


def parse_wrk(output: str) -> Result:
    """Requests/s, p50 and p99 (ms), counts and errors from ``wrk --latency``."""

    def latency(percent: int) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if not match:
            raise ValueError(f"no {percent}% latency in wrk output:\n{output}")
        return round(float(match[1]) * _UNITS_MS[match[2]], 3)

    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        p50_ms=latency(50),
        p99_ms=latency(99),
        requests=int(re.search(r"(\d+) requests in", output)[1]),
        errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
        non_2xx_3xx=int(non_2xx[1]) if non_2xx else 0,
    )


def sitemap_paths(base: str) -> list[str]:
    """Every page the sitemap lists, as paths."""
    xml = fetch(base + "/sitemap.xml").decode()
    return [
        re.sub(r"^https?://[^/]+", "", loc) for loc in re.findall(r"<loc>([^<]+)<", xml)
    ]


def report(
    machine: dict,
    gunicorn_settings: list[str],
    duration: int,
    results: dict[str, dict[int, Result]],
    weights: dict,
) -> None:
    """The table, the targets, the page weights and the JSON line."""
    references = {"nginx": "bare-nginx"}
    print()
    print(
        f"{'scenario':<15} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'errors':>6} {'÷ref':>6}"
    )
    ratios: dict[str, dict[int, float]] = {}
    for name, runs in results.items():
        reference = results.get(references.get(name.split("-")[0], ""))
        for c, r in runs.items():
            shown = "-"
            if reference and reference[c].rps:
                ratio = round(r.rps / reference[c].rps, 3)
                ratios.setdefault(name, {})[c] = ratio
                shown = f"{ratio:.2f}"
            print(
                f"{name:<15} {c:>5} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
                f" {r.errors + r.non_2xx_3xx:>6} {shown:>6}"
            )
    print(
        f"\nBest of {ROUNDS} interleaved rounds of {duration} s. errors: socket"
        " errors plus responses other than 2xx/3xx. ÷ref: nginx-* to bare-nginx;"
        " app-* is gunicorn alone."
    )

    c = TARGET_CONNECTIONS
    page, app = results["nginx-topic"][c], results["app-topic"][c]
    post = results["app-form-post"][c]
    targets = {
        "nginx-topic": ratios["nginx-topic"][c] >= TARGET_RATIO_TO_BARE_NGINX,
        "app-topic": app.p99_ms < TARGET_P99_MS and app.errors + app.non_2xx_3xx == 0,
        "app-form-post": post.rps >= TARGET_POST_RPS
        and post.errors + post.non_2xx_3xx == 0,
    }
    verdict = {True: "met", False: "MISSED"}
    print(f"\nTargets at {c} connections:")
    print(
        f"  topic page through nginx: {ratios['nginx-topic'][c]:.0%} of bare nginx"
        f" (>= {TARGET_RATIO_TO_BARE_NGINX:.0%}), {page.rps:.0f} req/s:"
        f" {verdict[targets['nginx-topic']]}"
    )
    print(
        f"  topic page from gunicorn alone: {app.rps:.0f} req/s, p99"
        f" {app.p99_ms:.1f} ms (< {TARGET_P99_MS:.0f}): {verdict[targets['app-topic']]}"
    )
    print(
        f"  form POST: {post.rps:.0f} req/s (>= {TARGET_POST_RPS:.0f}),"
        f" {post.errors + post.non_2xx_3xx} errors: {verdict[targets['app-form-post']]}"
    )

    print(
        f"\nPage weight through nginx, first visit (budget {MAX_TRANSFER_BYTES} B,"
        f" {MAX_REQUESTS} requests):"
    )
    for path, weight in weights.items():
        problems = weight.budget_problems()
        print(
            f"  {path:<36} {weight.requests} requests {weight.transferred:>6} B"
            f"  {'ok' if not problems else '; '.join(problems)}"
        )

    figures = {
        "machine": machine,
        "gunicorn": gunicorn_settings,
        "duration_s": duration,
        "rounds": ROUNDS,
        "results": {
            name: {str(c): asdict(r) for c, r in runs.items()}
            for name, runs in results.items()
        },
        "ratios": {
            n: {str(c): v for c, v in runs.items()} for n, runs in ratios.items()
        },
        "targets_met": targets,
        "page_weight": {
            path: {"requests": w.requests, "bytes": w.transferred}
            for path, w in weights.items()
        },
    }
    line = json.dumps(figures, sort_keys=True)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(line + "\n")
    print()
    print(line)


if __name__ == "__main__":
    main()
