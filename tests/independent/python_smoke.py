"""Drives whop-chat-mcp with the official MCP Python SDK (mcp==2.3.0), an independent client.

usage: python python_smoke.py MODE SERVER_BINARY
  MODE: legacy (initialize, 2025-11-25) or auto (server/discover, 2026-07-28 against rmcp)

Starts the server with --demo --toolsets all, lists the tools, calls each one with sensible arguments and
one with a bad id, and checks what a model would read. The SDK itself validates every
structuredContent against the tool's outputSchema (a mismatch raises). Exit code 0 = all good.
"""

import json
import sys
import tempfile
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

READS = {"list_messages", "list_channels", "get_channel", "list_support_channels", "get_message", "wait_for_messages", "whoami",
         "list_dm_channels", "find_users", "list_reactions", "search_messages"}
WRITES = {"send_message", "upload_file", "edit_message", "delete_message", "add_reaction", "remove_reaction", "open_support_channel",
          "open_dm_channel", "update_channel_settings"}
ALL = READS | WRITES


def text_of(result) -> str:
    return "\n".join(b.text for b in result.content if getattr(b, "type", None) == "text")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def main() -> int:
    mode, binary = sys.argv[1], sys.argv[2]
    root = Path(tempfile.mkdtemp(prefix="whop-mcp-py-"))
    (root / "notes.txt").write_text("Meeting notes — café ☕\n", encoding="utf-8")
    params = StdioServerParameters(command=binary, args=["--demo", "--toolsets", "all", "--upload-root", str(root)])
    report = {"mode": mode}
    async with Client(params, mode=mode) as c:
        report["protocol"] = str(c.protocol_version)
        info = c.server_info
        check(info and info.title == "Whop Chat" and info.website_url, f"serverInfo: {info}")
        check([i.mime_type for i in info.icons or []] == ["image/png", "image/svg+xml"], "server icons")
        tools = {t.name: t for t in (await c.list_tools()).tools}
        check(ALL == set(tools), f"tools differ: {ALL ^ set(tools)}")
        for name, t in tools.items():
            check(t.title, f"{name}: title")
            check(t.output_schema and t.output_schema.get("type") == "object", f"{name}: outputSchema")
            check(t.input_schema.get("additionalProperties") is False, f"{name}: closed inputSchema")
            check(t.annotations is not None, f"{name}: annotations")
            # Left out, so the spec's default (true) applies: every tool talks to Whop.
            check(t.annotations.open_world_hint is not False, f"{name}: openWorldHint")
            if name in READS:
                check(t.annotations.read_only_hint is True, f"{name}: readOnlyHint")
        report["tools"] = sorted(tools)

        calls = {}

        async def call(name, args, expect_error=False, **kw):
            r = await c.call_tool(name, args, **kw)
            check(bool(r.is_error) == expect_error, f"{name}{args}: is_error={r.is_error}: {text_of(r)}")
            calls.setdefault(name, 0)
            calls[name] += 1
            return r

        r = await call("list_channels", {})
        channels = r.structured_content["channels"]
        general = next(ch for ch in channels if ch["name"] == "General")
        announcements = next(ch for ch in channels if ch["name"] == "Announcements")
        check("#General" in text_of(r), "channel names in text")

        r = await call("get_channel", {"channel_id": general["experience_id"]})
        check(r.structured_content["id"] == general["id"], "get_channel by experience id")

        r = await call("list_messages", {"channel_id": general["id"], "limit": 5})
        page = r.structured_content
        check(len(page["messages"]) == 5 and page["next_cursor"], "first page")
        check("untrusted user content" in text_of(r), "untrusted marker")
        r = await call("list_messages", {"channel_id": general["id"], "limit": 5, "cursor": page["next_cursor"]})
        check(not {m["id"] for m in page["messages"]} & {m["id"] for m in r.structured_content["messages"]}, "pages differ")

        r = await call("list_messages", {"channel_id": general["id"], "limit": 100})
        check("next_cursor" not in r.structured_content, "no next_cursor on the last page")

        r = await call("list_support_channels", {"open": True})
        check(any(s.get("needs_reply") for s in r.structured_content["support_channels"]), "inbox needs replies")

        progress = []

        async def on_progress(done, total, message):
            progress.append(done)

        r = await call("upload_file", {"path": "notes.txt"}, progress_callback=on_progress)
        file_id = r.structured_content["id"]
        check(r.structured_content["status"] == "ready", "upload ready")
        report["upload_progress"] = progress

        before = page["messages"][0]["id"]
        r = await call("send_message", {"channel_id": general["id"], "content": "Notes from today ✅", "attachment_ids": [file_id]})
        mine = r.structured_content["id"]
        check(mine.startswith("msg_"), "message id")
        check(r.structured_content["content"] == "Notes from today ✅", "content round-trips as UTF-8")

        r = await call("wait_for_messages", {"channel_id": general["id"], "after": before, "timeout_seconds": 5})
        check([m["id"] for m in r.structured_content["messages"]] == [mine], "wait returns what came after")
        r = await call("get_message", {"message_id": mine})
        check(r.structured_content["content"] == "Notes from today ✅", "get_message")
        r = await call("edit_message", {"message_id": mine, "content": "Notes from today ✅ (edited)"})
        check("edited" in r.structured_content.get("flags", []), "edit flag")
        await call("add_reaction", {"message_id": mine, "emoji": ":fire:"})
        r = await call("remove_reaction", {"message_id": mine, "emoji": ":fire:"})
        check(r.structured_content["done"] is True, "reaction removed")
        r = await call("open_support_channel", {"user": "marcusl"})
        check(r.structured_content["status"] == "open", "support chat")
        await call("add_reaction", {"message_id": mine, "emoji": ":tada:"})
        r = await call("list_reactions", {"message_id": mine})
        check(any(x.get("emoji") == ":tada:" for x in r.structured_content["reactions"]), "who reacted")

        # DMs: the listing shows the pending request; a DM id works with the message tools.
        r = await call("list_dm_channels", {})
        dms = r.structured_content["dm_channels"]
        check(any(d["pending"] for d in dms) and "request pending" in text_of(r), "pending DM request")
        r = await call("find_users", {"query": "marcus"})
        marcus = r.structured_content["users"][0]
        check(marcus["username"] == "marcusl", "find_users")
        r = await call("open_dm_channel", {"users": [marcus["id"]]})
        dm = r.structured_content["id"]
        check(any(m["status"] == "requested" for m in r.structured_content["members"]), "DM request sent")
        r = await call("send_message", {"channel_id": dm, "content": "Hi Marcus — about your invoice"})
        r = await call("list_messages", {"channel_id": dm})
        check("about your invoice" in text_of(r), "DM read back")
        r = await call("list_support_channels", {"customer": "marcusl"})
        check(len(r.structured_content["support_channels"]) == 1, "inbox filtered by customer")

        r = await call("search_messages", {"query": "zeppelin"})
        check("more to scan" in text_of(r) and r.structured_content["next_cursor"], "search reports its scan")
        r = await call("search_messages", {"query": "zeppelin", "cursor": r.structured_content["next_cursor"]})
        check(all(c["scanned"] <= 200 for c in r.structured_content["channels"]), "search continues")
        r = await call("update_channel_settings", {"channel_id": general["id"], "slow_mode_seconds": 5})
        check(r.structured_content["rules"].get("cooldown_seconds") == 5, "slow mode set")
        await call("update_channel_settings", {"channel_id": general["id"], "slow_mode_seconds": 0})

        r = await call("whoami", {})
        check(r.structured_content["kind"] == "company", "whoami")
        r = await call("delete_message", {"message_id": mine})
        check(r.structured_content["deleted"] is True, "deleted")

        prompts = [p.name for p in (await c.list_prompts()).prompts]
        check(prompts == ["summarize_channel", "triage_support_inbox", "draft_reply"], f"prompts {prompts}")
        got = await c.get_prompt("draft_reply", {"channel_id": general["id"], "message_id": before})
        check("get_message" in got.messages[0].content.text, "prompt names tools")
        res = await c.read_resource(f"whop://channels/{general['id']}/messages")
        check("newest first" in res.contents[0].text, "resource reads like list_messages")

        r = await call("get_channel", {"channel_id": "feed_DoesNotExist01"}, expect_error=True)
        check("list_channels" in text_of(r), "404 names the listing tool")
        r = await call("send_message", {"channel_id": general["id"], "content": "   "}, expect_error=True)
        check("blank" in text_of(r), "blank content refused")
        r = await call("send_message", {"channel_id": general["id"], "content": "hi", "reply_to": before}, expect_error=True)
        check("`reply_to`" in text_of(r) and "replying_to_message_id" in text_of(r), "unknown argument refused")

        polls = (await call("list_messages", {"channel_id": announcements["id"], "limit": 100})).structured_content
        poll = next(m for m in polls["messages"] if m.get("poll"))
        r = await call("get_message", {"message_id": poll["id"]})
        check("poll: 1) " in text_of(r), "get_message shows the poll")
        r = await call("add_reaction", {"message_id": poll["id"], "poll_option_id": "2"})
        check(r.structured_content == {"message_id": poll["id"], "poll_option_id": "2", "done": True}, "vote")

        check(ALL <= set(calls), f"not every tool was called: {ALL - set(calls)}")
        report["calls"] = calls
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
