#!/usr/bin/env bash
# Install the independent readers the export tests read snapshots back with:
# Debian's python3-openpyxl (XLSX) and the npm package hyparquet (Parquet).
# No-op when they are already there.
set -euo pipefail

SCRIPT_NAME=test-readers
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

if ! /usr/bin/python3 -c 'import openpyxl' >/dev/null 2>&1; then
	apt_install python3-openpyxl
fi

# hyparquet (pinned in test/readers/package-lock.json) reads Parquet back.
"$here/npm-deps.sh" "$here/../test/readers"
