"""Drives the sandbox with Whop's official Python SDK (whop-sdk), one call per operation the
server uses, at the SDK's own default Api-Version-Date.

Every request carries `X-Contract-Op: <operation>` (the SDK's `additional_headers`), so the
test can tell which recorded request belongs to which operation. The SDK parses each answer
into its models (pydantic, required fields checked); a failure is printed as a line
`FAIL <operation>: <error>` and makes the script exit 1. Input comes from the environment:
WHOP_BASE_URL, WHOP_API_KEY (an account key), WHOP_USER_KEY (a user token) and CONTRACT_IDS
(JSON: channel, experience, company, support, reply_to, customer, dm, user).
"""

import inspect
import json
import os
import sys
import time

import httpx
import whop_sdk
from whop_sdk import Whop

BASE = os.environ["WHOP_BASE_URL"]
IDS = json.loads(os.environ["CONTRACT_IDS"])
failures = []
results = {}


def client(token):
    params = inspect.signature(Whop.__init__).parameters
    kwargs = {"token": token, "max_retries": 0}
    if "base_url" in params:
        kwargs["base_url"] = BASE
    else:
        kwargs["environment"] = whop_sdk.WhopEnvironment(api=BASE, vault=BASE)
    return Whop(**kwargs)


def known(method, **kwargs):
    """The arguments this release's method takes: a parameter the SDK does not have at its
    pin is not sent (and our client must not send it either)."""
    names = inspect.signature(method).parameters
    return {k: v for k, v in kwargs.items() if k in names}


def company_kw(method):
    """The SDK's own name for the company parameter of this method."""
    names = inspect.signature(method).parameters
    return "account_id" if "account_id" in names else "company_id"


def op(name, call):
    try:
        value = call({"additional_headers": {"X-Contract-Op": name}})
        results[name] = value
        return value
    except Exception as e:  # noqa: BLE001 - every failure is reported by name
        failures.append(name)
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        return None


def main():
    w = client(os.environ["WHOP_API_KEY"])
    u = client(os.environ["WHOP_USER_KEY"])
    ch, company = IDS["channel"], IDS["company"]

    # Messages: list (two pages), retrieve.
    page = op("messages.list", lambda ro: w.messages.list(
        channel_id=ch, first=5, direction="desc", request_options=ro))
    cursor = page.response.page_info.end_cursor if page is not None else None
    op("messages.list.after", lambda ro: w.messages.list(
        channel_id=ch, first=5, direction="desc", after=cursor, request_options=ro))
    op("messages.retrieve", lambda ro: w.messages.retrieve(IDS["reply_to"], request_options=ro))

    # Files: create, the presigned PUT with every upload header, then retrieve until ready.
    f = op("files.create", lambda ro: w.files.create(
        filename="chart.png", visibility="public", request_options=ro))
    file_id = None
    if f is not None:
        file_id = f.id
        headers = {k: str(v) for k, v in (f.upload_headers or {}).items() if v is not None}
        headers["X-Contract-Op"] = "files.upload"
        put = httpx.put(f.upload_url, content=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
                        headers=headers)
        if put.status_code // 100 != 2:
            failures.append("files.upload")
            print(f"FAIL files.upload: HTTP {put.status_code} {put.text}", flush=True)
        for _ in range(50):
            got = op("files.retrieve", lambda ro: w.files.retrieve(file_id, request_options=ro))
            if got is None or got.upload_status in ("ready", "failed"):
                break
            time.sleep(0.1)
        if got is not None and got.upload_status != "ready":
            failures.append("files.retrieve")
            print(f"FAIL files.retrieve: status {got.upload_status}", flush=True)

    # Messages: create (every field the server sends), update, reactions, delete.
    m = op("messages.create", lambda ro: w.messages.create(
        channel_id=ch, content="Which day? see chart",
        attachments=[{"id": file_id}] if file_id else None,
        auto_detect_links=False,
        poll={"options": [{"id": "1", "text": "Mon"}, {"id": "2", "text": "Tue"}]},
        replying_to_message_id=IDS["reply_to"], request_options=ro))
    if m is not None:
        op("messages.update", lambda ro: w.messages.update(
            m.id, content="Which day? (edited)", is_pinned=True, request_options=ro))
        op("reactions.create", lambda ro: w.reactions.create(
            resource_id=m.id, emoji=":fire:", request_options=ro))
        op("reactions.create.vote", lambda ro: w.reactions.create(
            resource_id=m.id, poll_option_id="1", request_options=ro))
        op("reactions.list", lambda ro: w.reactions.list(
            resource_id=m.id, first=10, request_options=ro))
        op("reactions.delete", lambda ro: w.reactions.delete(
            m.id, emoji=":fire:", request_options=ro))
        op("messages.delete", lambda ro: w.messages.delete(m.id, request_options=ro))

    # Chat channels.
    kw = company_kw(w.chat_channels.list)
    op("chat_channels.list", lambda ro: w.chat_channels.list(
        **{kw: company}, first=10, request_options=ro))
    op("chat_channels.retrieve", lambda ro: w.chat_channels.retrieve(
        IDS["experience"], request_options=ro))
    op("chat_channels.update", lambda ro: w.chat_channels.update(
        IDS["experience"], who_can_post="everyone", who_can_react="everyone",
        user_posts_cooldown_seconds=30, ban_urls=True, ban_media=False,
        banned_words=["scam", "pump"], request_options=ro))

    # DMs: the key's channels (scoped to the company), open one, the members of another.
    kw = company_kw(w.dm_channels.list)
    op("dm_channels.list", lambda ro: w.dm_channels.list(
        **{kw: company}, first=10, request_options=ro))
    kw = company_kw(w.dm_channels.create)
    op("dm_channels.create", lambda ro: w.dm_channels.create(
        with_user_ids=[IDS["customer"]], **{kw: company}, custom_name="Billing",
        request_options=ro))
    op("dm_members.list", lambda ro: w.dm_members.list(
        channel_id=IDS["dm"], first=50, request_options=ro))

    # People: search by name, and one user, identity only where the SDK has the parameter.
    op("users.list", lambda ro: w.users.list(query="dana", first=10, request_options=ro))
    op("users.retrieve", lambda ro: w.users.retrieve(
        IDS["user"], **known(w.users.retrieve, include_balance=False), request_options=ro))

    # Support channels.
    kw = company_kw(w.support_channels.list)
    op("support_channels.list", lambda ro: w.support_channels.list(
        **known(w.support_channels.list, include_last_message=True),
        **{kw: company}, open=True, order="last_post_sent_at", direction="desc",
        first=20, request_options=ro))
    op("support_channels.retrieve", lambda ro: w.support_channels.retrieve(
        IDS["support"], request_options=ro))
    kw = company_kw(w.support_channels.create)
    op("support_channels.create", lambda ro: w.support_channels.create(
        **{kw: company}, user_id=IDS["customer"], custom_name="Billing", request_options=ro))

    # Identity: the account key's account; the user token's user, identity only where the
    # SDK has the parameter.
    op("accounts.me", lambda ro: w.accounts.me(request_options=ro))
    op("users.me", lambda ro: u.users.me(
        **known(u.users.me, include_balance=False), request_options=ro))

    # A few values the test checks beyond "the models parsed".
    out = {"version": getattr(whop_sdk, "__version__", None)}
    created = results.get("messages.create")
    if created is not None:
        out["created_reply_to"] = created.replying_to_message_id
    reacted = results.get("reactions.create")
    if reacted is not None:
        out["reaction_emoji"] = reacted.emoji
    print("RESULT " + json.dumps(out), flush=True)
    sys.exit(1 if failures else 0)


main()
