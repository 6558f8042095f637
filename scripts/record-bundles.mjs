// Records MCP bundles in server.json (the MCP registry entry). For each bundle given, named
// whop-chat-mcp-<version>-<os>-<arch>.mcpb, the package of that platform gets the bundle's
// release URL, version and SHA-256 (added if server.json has none yet); every other package is
// left as it is. Each bundle package offers the same settings as the crates.io package.
//
//   node scripts/record-bundles.mjs dist/*.mcpb       (SERVER_JSON=path: another copy of it)
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const path = process.env.SERVER_JSON ?? new URL("../server.json", import.meta.url);
const server = JSON.parse(readFileSync(path, "utf8"));
const settings = (server.packages.find((p) => p.registryType === "cargo") ?? server.packages[0])
  .environmentVariables;

for (const file of process.argv.slice(2)) {
  const name = basename(file);
  const parts = name.match(/^whop-chat-mcp-(.+)-((?:linux|darwin|windows)-(?:x86_64|aarch64))\.mcpb$/);
  if (!parts) {
    throw new Error(`${name}: not a bundle name like whop-chat-mcp-<version>-<os>-<arch>.mcpb`);
  }
  const [, version, platform] = parts;
  if (version !== server.version) {
    throw new Error(`${name}: version ${version}, but server.json is at ${server.version}`);
  }
  const entry = {
    registryType: "mcpb",
    identifier: `${server.repository.url}/releases/download/v${version}/${name}`,
    version,
    fileSha256: createHash("sha256").update(readFileSync(file)).digest("hex"),
    transport: { type: "stdio" },
    environmentVariables: settings,
  };
  const same = server.packages.findIndex(
    (p) => p.registryType === "mcpb" && p.identifier.endsWith(`-${platform}.mcpb`),
  );
  if (same >= 0) server.packages[same] = entry;
  else server.packages.push(entry);
  console.log(`server.json: ${platform} -> ${entry.identifier} (sha256 ${entry.fileSha256})`);
}
writeFileSync(path, JSON.stringify(server, null, 2) + "\n");
