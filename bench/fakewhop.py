#!/usr/bin/env python3
"""An independent fake of Whop's `GET /messages` for the benchmark (standard library only).

It shares nothing with the Rust code: its messages are built from the sample message of the
Whop API reference (/work/shared/whop-api/README.md §8), with every documented field present
(`id`, `content`, `created_at`, `updated_at`, `is_edited`, `is_pinned`, `mentions`,
`mentions_everyone`, `message_type`, `poll`, `poll_votes`, `reaction_counts`,
`replying_to_message_id`, `user{id, name, username}`, `view_count`), about 500 bytes each as
compact JSON, with distinct ids and timestamps. It answers the one endpoint both benchmarked
servers call for a page of messages:

    GET /api/v1/messages?channel_id=…&first=N&direction=desc|asc[&after=CURSOR]

with `Authorization: Bearer <key>`, as a Relay-style page (`data`, `page_info`), over
HTTP/1.1 with keep-alive (as Whop does). Answers are encoded once and then served from a cache,
so the fake itself costs little CPU on the shared cores.

    python3 bench/fakewhop.py [--listen 127.0.0.1:0]

prints WHOP_BASE_URL=…, WHOP_API_KEY=…, WHOP_COMPANY_ID=… (one per line), then serves until
stdin closes or it is terminated.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHANNEL = "feed_7HgT2kLp9QmXcV"
KEY = "apik_fakeWhopBench_3kT9xQ2mLp7vR"
COMPANY = "biz_8JkL1mN3bV5cXz"
MESSAGES = 120

USERS = [
    {"id": "user_Zx9yWv8uTs7rQ", "name": "Dana Whitfield", "username": "danaw"},
    {"id": "user_Ab3dEf5gHi7jK", "name": "Priya Nair", "username": "priyan"},
    {"id": "user_Qw2Er4Ty6Ui8O", "name": "Marcus Lee", "username": "marcusl"},
    {"id": "user_Lm4Nb6Vc8Xz0P", "name": "Chloé Martin", "username": "chloe"},
    {"id": "user_Hj5Kl7Mn9Bv1C", "name": None, "username": "tradebot"},
]
CONTENTS = [
    "Welcome to the **VIP room**! Check the pinned rules.",
    "Morning all, BTC is holding the 64k support so far. Watching the 4h close before adding.",
    "Does anyone have the replay link for yesterday's session? I missed the second half.",
    "Reminder: no financial advice here, do your own research. Risk what you can afford to lose.",
    "Closed my ETH long at +3.2 %, thanks for the heads-up on the resistance level 🙏",
    "Café meetup next Friday in Lisbon ☕ who's in? Reply here and I'll book a table.",
    "New video is up in the course section: position sizing and stop placement, 18 minutes.",
    "I keep getting logged out of the app on iOS, is that just me or a known issue?",
]
REACTIONS = [":fire:", ":heart:", "👍", ":rocket:"]


def message(i: int, newest: datetime.datetime) -> dict:
    """The i-th newest message (0 = newest): the §8 sample with distinct values."""
    created = newest - datetime.timedelta(minutes=37 * i, seconds=i)
    edited = i % 3 == 0
    updated = created + datetime.timedelta(minutes=2, seconds=29) if edited else created
    user = USERS[i % len(USERS)]
    other = USERS[(i + 1) % len(USERS)]
    m = {
        "id": f"msg_{i:04d}fK2LmQ7rTz4Xw"[:18],
        "content": CONTENTS[i % len(CONTENTS)],
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
        "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%S.") + f"{updated.microsecond // 1000:03d}Z",
        "is_edited": edited,
        "is_pinned": i % 17 == 0,
        "mentions": [other["id"]] if i % 2 == 0 else [],
        "mentions_everyone": i % 29 == 0,
        "message_type": "automated" if user["username"] == "tradebot" else "regular",
        "poll": None,
        "poll_votes": [],
        "reaction_counts": [
            {"count": 1 + (i * 7 + k) % 9, "emoji": REACTIONS[(i + k) % len(REACTIONS)]}
            for k in range(i % 3)
        ],
        "replying_to_message_id": f"msg_{i + 3:04d}fK2LmQ7rTz4Xw"[:18] if i % 4 == 1 else None,
        "user": dict(user),
        "view_count": 57 + i % 40 if i % 5 else None,
    }
    if i % 11 == 5:  # the poll sample of §8
        m["content"] = "Which session time works?"
        m["poll"] = {"options": [{"id": "1", "text": "Morning"}, {"id": "2", "text": "Evening"}]}
        m["poll_votes"] = [{"count": 12, "option_id": "1"}, {"count": 5, "option_id": "2"}]
    return m


def cursor(i: int) -> str:
    return base64.b64encode(f"messages:{i}".encode()).decode()


def uncursor(c: str) -> int | None:
    try:
        kind, _, n = base64.b64decode(c, validate=True).decode().partition(":")
        return int(n) if kind == "messages" else None
    except (ValueError, UnicodeDecodeError):
        return None


class Fake:
    def __init__(self) -> None:
        newest = datetime.datetime(2026, 11, 24, 16, 5, 11, 402000)
        # Newest first.
        self.messages = [message(i, newest) for i in range(MESSAGES)]
        self.cache: dict[str, tuple[int, bytes]] = {}
        self.lock = threading.Lock()

    def page(self, query: str) -> tuple[int, bytes]:
        with self.lock:
            hit = self.cache.get(query)
        if hit is None:
            hit = self._page(parse_qs(query, keep_blank_values=True))
            with self.lock:
                self.cache[query] = hit
        return hit

    def _page(self, q: dict) -> tuple[int, bytes]:
        def error(status, message, param=None):
            body = {"error": {"type": "invalid_request_error", "message": message}}
            if param:
                body["error"]["param"] = param
            return status, json.dumps(body).encode()

        channel = q.get("channel_id", [""])[0]
        if not channel:
            return error(400, "Missing required parameter: channel_id.", "channel_id")
        if channel != CHANNEL:
            return error(404, "Not found")
        try:
            first = int(q.get("first", ["20"])[0])
        except ValueError:
            return error(400, "first must be an integer", "first")
        first = max(1, min(first, 100))
        direction = q.get("direction", ["desc"])[0]
        ordered = self.messages if direction != "asc" else self.messages[::-1]
        start = 0
        if "after" in q:
            at = uncursor(q["after"][0])
            if at is None:
                return error(400, "Invalid cursor", "after")
            start = at + 1
        data = ordered[start : start + first]
        end = start + len(data) - 1
        body = {
            "data": data,
            "page_info": {
                "end_cursor": cursor(end) if data else None,
                "has_next_page": start + len(data) < len(ordered),
                "has_previous_page": start > 0,
                "start_cursor": cursor(start) if data else None,
            },
        }
        return 200, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Whop
    # The head and the body go out in separate writes: without TCP_NODELAY the body waits for
    # the client's delayed ACK (about 40 ms per answer).
    disable_nagle_algorithm = True
    fake: Fake

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self._send(401, b'{"error":{"type":"unauthorized","message":"Invalid API key"}}')
        elif url.path == "/api/v1/messages":
            self._send(*self.fake.page(url.query))
        else:
            self._send(404, b'{"error":{"type":"not_found","message":"Not found"}}')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:0", help="host:port (port 0: the kernel picks one)")
    ap.add_argument("--dump", action="store_true", help="print the newest page of 20 and exit")
    args = ap.parse_args()
    Handler.fake = Fake()
    if args.dump:
        print(Handler.fake.page(f"channel_id={CHANNEL}&first=20&direction=desc")[1].decode())
        return
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    print(f"WHOP_BASE_URL=http://{host}:{server.server_address[1]}/api/v1")
    print(f"WHOP_API_KEY={KEY}")
    print(f"WHOP_COMPANY_ID={COMPANY}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sys.stdin.read()  # until the parent closes our stdin (or kills us)
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
