#!/usr/bin/env python3
"""Load run for a hosted deployment: two replicas sharing one Redis, the standalone webhook
receiver, and the sandbox with latency injected into every Whop call, driven by many MCP
clients over Streamable HTTP at once.

Everything listens on loopback and is bounded in count and time (--clients, --seconds).
Standard library only. Usage:

    python3 bench/load.py --bin target/release/whop-chat-mcp [--clients 200] [--seconds 60]
        [--latency-ms 80] [--rate-limit 400] [--out bench/load.md]

What it reports (and writes as a Markdown table to --out):
- throughput (tool calls answered per second) and errors;
- p50/p99 latency per tool, and the same above the Whop round trip (latency minus the injected
  latency times the Whop requests the call needs at least: 1 for a read or a send);
- wake-up latency: from a send being acknowledged to a wait on another replica answering with it;
- RSS per replica (peak VmHWM and the last VmRSS);
- Whop requests per second as the sandbox saw them (mean and the busiest second), against the
  shared budget;
- duplicate sends (a message posted twice for one tool call) and lost sends, counted from the
  sandbox's own store; missed wake-ups (a wait that timed out although a message was sent to its
  channel while it waited).
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

DEMO_KEY = "whop_sandbox_demo_key"
SECRET = "ws_load_" + uuid.uuid4().hex
WAIT_TIMEOUT = 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status < 500:
                    return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up within {seconds} s")


def wait_port(port, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} did not open within {seconds} s")


def rss_kib(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":")
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid):
    """utime + stime of a process so far, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    i = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[i]


class Conn:
    """One keep-alive HTTP/1.1 connection that posts JSON-RPC to /mcp."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None
        self.ids = 0

    async def _open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def call(self, method, params, timeout):
        self.ids += 1
        body = json.dumps(
            {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}
        ).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Mcp-Protocol-Version: 2025-11-25\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        for attempt in (0, 1):
            try:
                if self.writer is None:
                    await self._open()
                self.writer.write(head + body)
                await self.writer.drain()
                return await asyncio.wait_for(self._read(), timeout)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                # A keep-alive connection the server closed while idle: reopen once.
                self.close()
                if attempt:
                    raise e

    async def _read(self):
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length = None
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v:
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readline()
        else:
            data = await self.reader.readexactly(length or 0)
        return status, data

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Run:
    def __init__(self, args):
        self.args = args
        self.lat = {}  # tool -> [seconds]
        self.errors = {}  # tool -> count
        self.error_samples = []
        self.sends = {}  # marker -> (channel, ack time)
        self.waits = []  # (channel, start, end, markers returned, timed_out)
        self.calls = 0

    def record(self, tool, seconds, ok, sample=None):
        self.calls += 1
        if ok:
            self.lat.setdefault(tool, []).append(seconds)
        else:
            self.errors[tool] = self.errors.get(tool, 0) + 1
            if sample and len(self.error_samples) < 8:
                self.error_samples.append(f"{tool}: {sample[:300]}")


async def tool(run, conn, name, arguments, timeout=30):
    start = time.monotonic()
    try:
        status, data = await conn.call(
            "tools/call", {"name": name, "arguments": arguments}, timeout
        )
    except Exception as e:  # noqa: BLE001 - every failure is counted
        conn.close()
        run.record(name, time.monotonic() - start, False, repr(e))
        return None
    took = time.monotonic() - start
    try:
        reply = json.loads(data)
    except ValueError:
        run.record(name, took, False, f"HTTP {status}: {data[:200]!r}")
        return None
    result = reply.get("result")
    if status != 200 or result is None or result.get("isError"):
        run.record(name, took, False, json.dumps(reply)[:300])
        return None
    run.record(name, took, True)
    return result


async def client(run, n, ports, channel_ids, stop_at):
    conn = Conn(ports[n % len(ports)])  # the "load balancer": clients spread over replicas
    rnd = random.Random(n)
    try:
        while time.monotonic() < stop_at:
            ch = rnd.choice(channel_ids)
            r = rnd.random()
            if r < 0.45:
                await tool(run, conn, "list_messages", {"channel_id": ch, "limit": 20})
            elif r < 0.60:
                await tool(run, conn, "list_channels", {})
            elif r < 0.80:
                marker = f"load {uuid.uuid4().hex}"
                res = await tool(run, conn, "send_message", {"channel_id": ch, "content": marker})
                if res is not None:
                    run.sends[marker] = (ch, time.monotonic())
            else:
                if stop_at - time.monotonic() < WAIT_TIMEOUT + 1:
                    await asyncio.sleep(0.2)
                    continue
                start = time.monotonic()
                res = await tool(
                    run,
                    conn,
                    "wait_for_messages",
                    {"channel_id": ch, "timeout_seconds": WAIT_TIMEOUT},
                    timeout=WAIT_TIMEOUT + 15,
                )
                if res is not None:
                    sc = res.get("structuredContent") or {}
                    markers = [
                        m.get("content", "") for m in sc.get("messages", [])
                    ]
                    run.waits.append(
                        (ch, start, time.monotonic(), markers, bool(sc.get("timed_out")))
                    )
            # A person or agent reads what it got before the next call.
            await asyncio.sleep(rnd.uniform(0.1, 0.5))
    finally:
        conn.close()


def sandbox_get(base, path):
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {DEMO_KEY}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def stored_markers(base, channel_ids):
    counts = {}
    for ch in channel_ids:
        after = None
        while True:
            q = f"/api/v1/messages?channel_id={ch}&first=100" + (f"&after={after}" if after else "")
            page = sandbox_get(base, q)
            for m in page.get("data", []):
                c = m.get("content") or ""
                if c.startswith("load "):
                    counts[c] = counts.get(c, 0) + 1
            info = page.get("page_info", {})
            if not info.get("has_next_page"):
                break
            after = info.get("end_cursor")
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/release/whop-chat-mcp")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--latency-ms", type=int, default=80)
    ap.add_argument("--rate-limit", type=float, default=400)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not 1 <= args.clients <= 1000 or not 5 <= args.seconds <= 600:
        raise SystemExit("--clients must be 1..1000 and --seconds 5..600")
    redis = shutil.which("redis-server")
    if not redis:
        raise SystemExit("redis-server is needed (apt-get install redis-server)")

    procs = []
    logdir = tempfile.mkdtemp(prefix="whop-load-")

    def spawn(name, cmd, env=None):
        log = open(os.path.join(logdir, f"{name}.log"), "w")
        p = subprocess.Popen(
            cmd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        procs.append((name, p))
        return p

    try:
        rport = free_port()
        spawn("redis", [redis, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no"])
        wait_port(rport)
        state = f"redis://127.0.0.1:{rport}/"

        hook_port = free_port()
        spawn(
            "receiver",
            [args.bin, "webhooks", "--listen", f"127.0.0.1:{hook_port}"],
            {"WHOP_WEBHOOK_SECRET": SECRET, "WHOP_MCP_STATE_URL": state,
             "WHOP_API_KEY": DEMO_KEY, "RUST_LOG": "warn"},
        )
        wait_http(f"http://127.0.0.1:{hook_port}/healthz")

        sport = free_port()
        sbase = f"http://127.0.0.1:{sport}"
        spawn(
            "sandbox",
            [args.bin, "sandbox", "--listen", f"127.0.0.1:{sport}",
             "--latency-ms", str(args.latency_ms),
             "--webhook-url", f"http://127.0.0.1:{hook_port}/webhooks/whop"],
            {"WHOP_WEBHOOK_SECRET": SECRET},
        )
        wait_port(sport)

        ports, replicas = [], []
        for i in range(args.replicas):
            port = free_port()
            replicas.append(spawn(
                f"replica{i + 1}",
                [args.bin, "--http", f"127.0.0.1:{port}"],
                {"WHOP_API_KEY": DEMO_KEY, "WHOP_BASE_URL": sbase + "/api/v1",
                 "WHOP_MCP_STATE_URL": state, "WHOP_RATE_LIMIT": str(args.rate_limit),
                 "WHOP_WEBHOOK_SECRET": SECRET, "RUST_LOG": "warn"},
            ))
            ports.append(port)
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/healthz")

        before = sandbox_get(sbase, "/_sandbox/stats")
        channel_ids = before["chat_channels"][:3]

        run = Run(args)
        rss_peak = [0] * len(replicas)

        async def sample_rss(stop_at):
            while time.monotonic() < stop_at + 20:
                for i, p in enumerate(replicas):
                    rss_peak[i] = max(rss_peak[i], rss_kib(p.pid).get("VmRSS", 0))
                await asyncio.sleep(0.5)

        async def drive():
            stop_at = time.monotonic() + args.seconds
            sampler = asyncio.create_task(sample_rss(stop_at))
            await asyncio.gather(
                *(client(run, n, ports, channel_ids, stop_at) for n in range(args.clients))
            )
            sampler.cancel()

        cpu_before = {name: cpu_seconds(p.pid) for name, p in procs}
        own_before = time.process_time()
        started = time.monotonic()
        asyncio.run(drive())
        elapsed = time.monotonic() - started
        cpu = {name: cpu_seconds(p.pid) - cpu_before[name] for name, p in procs}
        cpu["load driver (this script)"] = time.process_time() - own_before
        run.cpu = cpu
        after = sandbox_get(sbase, "/_sandbox/stats")
        stored = stored_markers(sbase, channel_ids)
        rss = [rss_kib(p.pid) for p in replicas]
        report(args, run, elapsed, before, after, stored, rss, rss_peak, logdir)
    finally:
        for name, p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def report(args, run, elapsed, before, after, stored, rss, rss_peak, logdir):
    rt = args.latency_ms / 1000
    rows = []
    answered = sum(len(v) for v in run.lat.values())
    errors = sum(run.errors.values())
    rows.append(("tool calls answered (errors)", f"{answered:,} ({errors:,})"))
    rows.append(("throughput", f"{answered / elapsed:,.0f} calls/s"))
    for name in ("list_messages", "list_channels", "send_message"):
        xs = run.lat.get(name, [])
        if xs:
            rows.append((
                f"`{name}` p50 / p99 (above the {args.latency_ms} ms Whop round trip)",
                f"{pct(xs, 50) * 1000:.0f} / {pct(xs, 99) * 1000:.0f} ms "
                f"({(pct(xs, 50) - rt) * 1000:.0f} / {(pct(xs, 99) - rt) * 1000:.0f} ms)",
            ))
    # Wake-ups: a wait that answered with a message sent during it, on another connection.
    wake = []
    missed = 0
    for ch, start, end, markers, timed_out in run.waits:
        sent = [run.sends[m][1] for m in markers if m in run.sends]
        sent = [t for t in sent if t >= start]
        if sent:
            wake.append(max(0.0, end - min(sent)))
        if timed_out:
            # A message sent to its channel while it waited (with a margin at both ends).
            missed += any(c == ch and start + 0.5 < t < end - 1 for c, t in run.sends.values())
    rows.append(("waits answered (timed out)",
                 f"{len(run.waits):,} ({sum(1 for w in run.waits if w[4]):,})"))
    if wake:
        rows.append(("wake-up: send acknowledged → wait answered, p50 / p99",
                     f"{pct(wake, 50) * 1000:.0f} / {pct(wake, 99) * 1000:.0f} ms"))
    rows.append(("missed wake-ups", f"{missed}"))
    dup = sum(1 for m in run.sends if stored.get(m, 0) > 1)
    lost = sum(1 for m in run.sends if stored.get(m, 0) == 0)
    rows.append(("sends acknowledged; duplicates; lost", f"{len(run.sends):,}; {dup}; {lost}"))
    total = after["requests_total"] - before["requests_total"]
    per_sec = after.get("per_second", {})
    window = [v for k, v in per_sec.items() if int(k) >= before.get("now", 0)]
    busiest = max(window) if window else 0
    rows.append((
        f"Whop requests/s: mean; busiest second (budget {args.rate_limit:g}/s, burst "
        f"{args.rate_limit:g}: at most {2 * args.rate_limit:g} in any one second)",
        f"{total / elapsed:,.0f}; {busiest:,}",
    ))
    for i, r in enumerate(rss):
        rows.append((f"replica {i + 1} RSS: peak sampled; VmHWM",
                     f"{rss_peak[i] / 1024:.1f} MiB; {r.get('VmHWM', 0) / 1024:.1f} MiB"))
    rows.append((
        "CPU used over the run (seconds; % of one core)",
        "; ".join(f"{k} {v:.1f} ({100 * v / elapsed:.0f} %)" for k, v in run.cpu.items()),
    ))
    head = (f"{args.clients} clients, {args.seconds} s, {args.replicas} replicas + Redis + "
            f"webhook receiver, sandbox latency {args.latency_ms} ms per Whop call; "
            f"{os.cpu_count()} CPUs")
    table = "| figure | value |\n|---|---:|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    text = f"{head}\n\n{table}\n"
    if run.error_samples:
        text += "\nSample errors:\n" + "\n".join(f"- {e}" for e in run.error_samples) + "\n"
    text += f"\nLogs: {logdir}\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"# Load run\n\nWritten by `bench/load.py`.\n\n{text}")


if __name__ == "__main__":
    sys.exit(main())
