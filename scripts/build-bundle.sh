#!/usr/bin/env bash
# Builds the MCP bundle (.mcpb: the file Claude Desktop installs with one click) for this machine's
# platform with the official packer, and records the bundle's SHA-256 and URL in server.json (the
# MCP registry entry), ready to upload to the release and publish with `mcp-publisher publish`.
#
#   scripts/build-bundle.sh          -> dist/whop-chat-mcp-<version>-<os>-<arch>.mcpb
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
os=$(uname -s | tr '[:upper:]' '[:lower:]')
arch=$(uname -m)
case "$os" in darwin) platform=darwin ;; linux) platform=linux ;; *) platform=win32 ;; esac

cargo build --release --locked

tools=target/mcpb-cli
if [ ! -x "$tools/node_modules/.bin/mcpb" ]; then
  mkdir -p "$tools"
  (cd "$tools" && echo '{"private": true}' > package.json &&
   npm install --no-audit --no-fund --loglevel=error @anthropic-ai/mcpb@2.1.2)
fi
mcpb="$tools/node_modules/.bin/mcpb"

stage=dist/bundle
rm -rf "$stage"
mkdir -p "$stage/server"
cp target/release/whop-chat-mcp "$stage/server/"
cp LICENSE README.md "$stage/"
# The bundle holds one platform's binary: say so in its manifest.
python3 - "$platform" manifest.json "$stage/manifest.json" <<'PY'
import json, sys
platform, src, dst = sys.argv[1:]
m = json.load(open(src))
m["compatibility"]["platforms"] = [platform]
json.dump(m, open(dst, "w"), ensure_ascii=False, indent=2)
PY
"$mcpb" validate "$stage/manifest.json"

out="dist/whop-chat-mcp-$version-$os-$arch.mcpb"
"$mcpb" pack "$stage" "$out"
sha=$(sha256sum "$out" | cut -d ' ' -f 1)

python3 - "$sha" "$version" "$(basename "$out")" <<'PY'
import json, sys
sha, version, name = sys.argv[1:]
s = json.load(open("server.json"))
p = s["packages"][0]
p["fileSha256"] = sha
p["version"] = version
p["identifier"] = f"https://github.com/whop-chat-mcp/whop-chat-mcp/releases/download/v{version}/{name}"
json.dump(s, open("server.json", "w"), ensure_ascii=False, indent=2)
open("server.json", "a").write("\n")
PY
echo "built $out (sha256 $sha); server.json updated"
