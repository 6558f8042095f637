"""The official MCP Python SDK (mcp==2.3.0) as an OAuth client of whop-chat-mcp over HTTP.

usage: python python_oauth.py URL
The SDK starts with no token: on the server's 401 it follows the challenge to the protected-
resource metadata, discovers the authorization server (the test's fake one), registers itself,
"signs in" (the redirect is followed here, as a browser would), exchanges the code with PKCE and
retries with the access token. Then a session lists tools and calls one. Prints a JSON report;
exit code 0 = all good.
"""

import json
import sys
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def main() -> int:
    url = sys.argv[1]
    redirected = {}

    async def redirect_handler(authorization_url: str) -> None:
        # The user's browser: the fake authorization server answers with a redirect at once.
        async with httpx2.AsyncClient() as http:
            response = await http.get(authorization_url, follow_redirects=False)
        check(response.status_code == 302, f"authorize: HTTP {response.status_code}")
        query = parse_qs(urlparse(response.headers["location"]).query)
        redirected["code"] = query["code"][0]
        redirected["state"] = query.get("state", [None])[0]

    async def callback_handler() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=redirected["code"], state=redirected["state"])

    storage = Memory()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-test",
            redirect_uris=["http://127.0.0.1:9/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    report = {}
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as s:
                await s.initialize()
                tools = [t.name for t in (await s.list_tools()).tools]
                r = await s.call_tool("list_channels", {})
    check("send_message" in tools and len(tools) == 14, f"tools: {tools}")
    check(not r.is_error and r.structured_content["channels"], "tool call works")
    check(storage.tokens is not None, "the SDK got a token")
    report["tools"] = len(tools)
    report["channels"] = len(r.structured_content["channels"])
    report["scope"] = storage.tokens.scope
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
