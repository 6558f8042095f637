#!/usr/bin/env bash
# Benchmark: whop-chat-mcp against the official Node server @whop/mcp 0.0.6, on this machine,
# in one run. Builds ours (release), installs theirs into bench/node/node_modules, starts the
# standalone sandbox on a free loopback port, drives both servers with the same minimal
# JSON-RPC client (bench/mcpbench.py), prints the table and writes it to bench/results.md.
#
#   bench/compare.sh                  # everything (about 2 minutes once built)
#   bench/compare.sh --calls 500      # extra arguments go to mcpbench.py (see --help)
#   BENCH_BIN=path bench/compare.sh   # measure that binary instead of building (profile experiments)
#
# Needs: cargo, node + npm (Node 20 or newer), python3 (3.11+, standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm python3; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool is required" >&2; exit 1; }
done

if [[ -n "${BENCH_BIN:-}" ]]; then
    bin="$BENCH_BIN"
else
    echo "== building whop-chat-mcp (release)" >&2
    cargo build --release --locked >&2
    bin="${CARGO_TARGET_DIR:-target}/release/whop-chat-mcp"
fi
[[ -x "$bin" ]] || { echo "compare.sh: no binary at $bin" >&2; exit 1; }

# The reference server, pinned by bench/node/package-lock.json. Its jq-web dependency points
# at a download outside the npm registry; package.json overrides it with jq-web 0.6.2.
pkg=bench/node/node_modules/@whop/mcp
stamp=bench/node/node_modules/.package-lock.json   # npm writes it on every install
if [[ ! -f "$pkg/package.json" || ! -f "$stamp" || bench/node/package-lock.json -nt "$stamp" \
      || bench/node/package.json -nt "$stamp" ]]; then
    echo "== installing @whop/mcp into bench/node" >&2
    (cd bench/node && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

echo "== measuring (both servers, one sandbox)" >&2
exec python3 bench/mcpbench.py --ours "$bin" --node-pkg "$pkg" --out bench/results.md --logs bench/out "$@"
