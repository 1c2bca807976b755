#!/usr/bin/env bash
# Set-up for the governance console's tests (test/console): Debian's chromium
# and CJK fonts (driven headless by playwright-core through its executablePath; no browser
# download) and the console's pinned npm packages (console/package-lock.json:
# Vite, TypeScript, graphql-codegen, ECharts, playwright-core).
# No-op when both are already there.
set -euo pipefail

SCRIPT_NAME=console-deps
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

# Chromium, and CJK fonts so that its screenshots show Chinese labels.
apt_install chromium fonts-noto-cjk

"$here/npm-deps.sh" "$here/../console"
