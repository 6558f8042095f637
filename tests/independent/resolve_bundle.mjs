// Resolves an unpacked MCP bundle's server command the way a host does, with the official
// library's getMcpConfigForManifest (@anthropic-ai/mcpb), once for each user configuration.
//
//   node resolve_bundle.mjs MCPB_PACKAGE_DIR BUNDLE_DIR < cases.json > resolved.json
//
// cases.json: {"case": {<user_config values>}, ...}; resolved.json: {"case": <mcp_config>, ...},
// with null where the library gives none (a required setting is missing).
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, sep } from "node:path";
import { pathToFileURL } from "node:url";

const [mcpb, bundle] = process.argv.slice(2);
const { getMcpConfigForManifest } = await import(pathToFileURL(join(mcpb, "dist", "index.js")).href);
const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
const home = homedir();
const systemDirs = {
  HOME: home,
  DESKTOP: join(home, "Desktop"),
  DOCUMENTS: join(home, "Documents"),
  DOWNLOADS: join(home, "Downloads"),
};
const resolved = {};
for (const [name, userConfig] of Object.entries(JSON.parse(readFileSync(0, "utf8")))) {
  const config = await getMcpConfigForManifest({
    manifest,
    extensionPath: bundle,
    systemDirs,
    userConfig,
    pathSeparator: sep,
  });
  resolved[name] = config ?? null;
}
process.stdout.write(JSON.stringify(resolved));
