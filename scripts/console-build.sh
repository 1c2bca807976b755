#!/usr/bin/env bash
# Build the governance console (console/ -> internal/console/dist, which the
# Go binary embeds) when its sources changed since the committed build.
# Without Node the committed build is used as it is: `go build` never needs
# Node, and internal/console's TestBuildIsCurrent says when it is stale.
set -euo pipefail

SCRIPT_NAME=console-build
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	log "no Node: serving the committed console build (internal/console/dist)"
	exit 0
fi
"$here/npm-deps.sh" "$here/../console"
cd "$here/../console"
if node scripts/stamp.mjs --check 2>/dev/null; then
	exit 0
fi
log "console sources changed: npm run build"
npm run build </dev/null
