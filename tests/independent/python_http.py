"""The official MCP Python SDK (mcp==2.3.0) against whop-chat-mcp's Streamable HTTP transport.

usage: python python_http.py URL TOKEN
Checks: with the bearer token a session initializes, lists tools and a tool call works; without
it, or with a wrong one, the server answers 401 before any MCP happens. Exit code 0 = all good.
"""

import json
import sys

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def session_with(url, headers):
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as s:
                await s.initialize()
                tools = [t.name for t in (await s.list_tools()).tools]
                r = await s.call_tool("list_channels", {})
                return tools, r


async def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    report = {}
    tools, r = await session_with(url, {"Authorization": f"Bearer {token}"})
    check("send_message" in tools and "list_support_channels" in tools and len(tools) == 14, f"tools: {tools}")
    check(not r.is_error and r.structured_content["channels"], "tool call works")
    report["tools"] = len(tools)
    report["channels"] = len(r.structured_content["channels"])

    async with httpx2.AsyncClient() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        hdrs = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        for name, extra in [("none", {}), ("wrong", {"Authorization": "Bearer not-the-token-at-all"})]:
            resp = await http.post(url, json=body, headers={**hdrs, **extra})
            check(resp.status_code == 401, f"{name} token: HTTP {resp.status_code}")
            check(resp.headers.get("www-authenticate") == "Bearer", f"{name}: WWW-Authenticate")
            report[f"{name}_token"] = resp.status_code
    try:
        await session_with(url, {})
        check(False, "a session without the token must fail")
    except Exception as e:  # the SDK raises on the 401
        report["sdk_without_token"] = type(e).__name__
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
