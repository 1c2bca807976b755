#!/usr/bin/env bash
# Install the pinned npm packages of the federation test, if it has any.
#
# Usage: scripts/npm-deps.sh [DIR]     (DIR defaults to test/federation)
#
# No-op when DIR/package.json does not exist. Uses `npm ci` when a
# package-lock.json is there, else `npm install`. Skips the install when
# package.json/package-lock.json and the Node version are unchanged since the
# last successful install (stamp in DIR/node_modules).
set -euo pipefail

SCRIPT_NAME=npm-deps
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

dir=${1:-$here/../test/federation}
[[ -f $dir/package.json ]] || exit 0
cd "$dir"

if ! command -v npm >/dev/null 2>&1; then
	apt_install nodejs npm
fi

stamp=node_modules/.datahub-npm-stamp
fingerprint() {
	{ node --version; cat package.json; cat package-lock.json 2>/dev/null || true; } | sha256sum | cut -d' ' -f1
}

if [[ -f $stamp && $(<"$stamp") == "$(fingerprint)" ]]; then
	exit 0
fi

if [[ -f package-lock.json ]]; then
	log "npm ci in $(pwd)"
	npm ci --no-audit --no-fund </dev/null
else
	log "npm install in $(pwd) (no package-lock.json: commit the one it writes)"
	npm install --no-audit --no-fund </dev/null
fi
mkdir -p node_modules
fingerprint >"$stamp"
