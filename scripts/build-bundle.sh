#!/usr/bin/env bash
# Builds the MCP bundle (.mcpb: the file Claude Desktop installs with one click) for one platform
# with the official packer, and records it in server.json (the MCP registry entry): that
# platform's package gets the bundle's release URL and SHA-256, the other packages are left as
# they are.
#
#   scripts/build-bundle.sh [--target TRIPLE] [--binary PATH] [--out DIR] [--no-server-json]
#
#   --target TRIPLE    Rust target to build and name the bundle for (default: this machine's)
#   --binary PATH      pack this binary instead of building the release binary
#   --out DIR          where the bundle goes (default: dist)
#   --no-server-json   leave server.json alone (the release workflow records all bundles at once)
#
# -> DIR/whop-chat-mcp-<version>-<os>-<arch>.mcpb, <os> one of linux, darwin, windows.
# Needs bash, cargo, node and npm; the packer (@anthropic-ai/mcpb) is installed from npm into
# MCPB_DIR (default target/tmp/mcpb-2.1.2, where the tests install it too).
set -euo pipefail
cd "$(dirname "$0")/.."

mcpb_version=2.1.2
target=
binary=
out=dist
record=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-server-json) record=no; shift ;;
    *) echo "build-bundle.sh: unknown option $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
done

given_target=$target
[ -n "$target" ] || target=$(rustc -vV | sed -n 's/^host: //p')
case "$target" in
  *-linux-*) os=linux platform=linux exe= ;;
  *-apple-darwin) os=darwin platform=darwin exe= ;;
  *-windows-*) os=windows platform=win32 exe=.exe ;;
  *) echo "build-bundle.sh: no bundle platform for target $target" >&2; exit 2 ;;
esac
arch=${target%%-*}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

if [ -z "$binary" ]; then
  if [ -n "$given_target" ]; then
    cargo build --release --locked --target "$target"
    binary="target/$target/release/whop-chat-mcp$exe"
  else # where a plain `cargo build --release` puts it
    cargo build --release --locked
    binary="target/release/whop-chat-mcp$exe"
  fi
fi

tools=${MCPB_DIR:-target/tmp/mcpb-$mcpb_version}
if [ ! -e "$tools/.installed" ]; then
  mkdir -p "$tools"
  (cd "$tools" && echo '{"private": true}' > package.json &&
   npm install --no-audit --no-fund --loglevel=error "@anthropic-ai/mcpb@$mcpb_version" &&
   echo "$mcpb_version" > .installed)
fi
mcpb() { node "$tools/node_modules/@anthropic-ai/mcpb/dist/cli/cli.js" "$@"; }

name="whop-chat-mcp-$version-$os-$arch"
stage="$out/$name.stage"
rm -rf "$stage"
mkdir -p "$stage/server"
cp "$binary" "$stage/server/whop-chat-mcp$exe"
cp LICENSE README.md "$stage/"
# The bundle holds one platform's binary: say so in its manifest, and name the .exe on Windows.
node - "$platform" "$exe" manifest.json "$stage/manifest.json" <<'JS'
const fs = require("node:fs");
const [platform, exe, src, dst] = process.argv.slice(2);
const m = JSON.parse(fs.readFileSync(src, "utf8"));
m.compatibility.platforms = [platform];
m.server.entry_point += exe;
m.server.mcp_config.command += exe;
fs.writeFileSync(dst, JSON.stringify(m, null, 2) + "\n");
JS
mcpb validate "$stage/manifest.json"
bundle="$out/$name.mcpb"
mcpb pack "$stage" "$bundle"
rm -rf "$stage"

if [ "$record" = yes ]; then
  node scripts/record-bundles.mjs "$bundle"
  echo "built $bundle; recorded in server.json"
else
  echo "built $bundle"
fi
