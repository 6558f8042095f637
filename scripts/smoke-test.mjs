// Starts a whop-chat-mcp binary against its built-in sandbox (--demo) and has one short MCP
// session with it over stdio, the way a host would: initialize, tools/list, one tools/call.
// The release workflow runs it on every platform's binary before packing it.
//
//   node scripts/smoke-test.mjs path/to/whop-chat-mcp[.exe]      (exit 0: the binary works)
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const binary = process.argv[2];
if (!binary) {
  console.error("usage: node scripts/smoke-test.mjs BINARY");
  process.exit(2);
}
const server = spawn(binary, ["--demo"], { stdio: ["pipe", "pipe", "inherit"] });
const timer = setTimeout(() => fail("no answer within 30 s"), 30_000);
const waiting = new Map();
createInterface({ input: server.stdout }).on("line", (line) => {
  const message = JSON.parse(line);
  waiting.get(message.id)?.(message);
});
server.on("exit", (code) => fail(`the server exited early (code ${code})`));
server.on("error", (e) => fail(`cannot start ${binary}: ${e.message}`));
server.stdin.on("error", () => {}); // an early exit is reported above

function fail(why) {
  console.error(`smoke test failed: ${why}`);
  process.exit(1);
}

let next = 1;
function request(method, params) {
  const id = next++;
  server.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
  return new Promise((resolve) => waiting.set(id, resolve)).then((answer) => {
    if (answer.error) fail(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  });
}

const init = await request("initialize", {
  protocolVersion: "2025-11-25",
  capabilities: {},
  clientInfo: { name: "smoke-test", version: "1" },
});
server.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
const { tools } = await request("tools/list", {});
const channels = await request("tools/call", { name: "list_channels", arguments: {} });
if (channels.isError) fail(`list_channels: ${JSON.stringify(channels.content)}`);
console.log(
  `${init.serverInfo.name} ${init.serverInfo.version}: ${tools.length} tools; ` +
    `list_channels: ${channels.content[0].text.split("\n")[0]}`,
);
clearTimeout(timer);
server.removeAllListeners("exit");
server.stdin.end();
