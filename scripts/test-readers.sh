#!/usr/bin/env bash
# Install the independent readers the export tests read snapshots back with:
# Debian's python3-openpyxl (XLSX) and the npm package hyparquet (Parquet),
# and the tools of the README's snippets for evaluation teams (pandas, R).
# No-op when they are already there.
set -euo pipefail

SCRIPT_NAME=test-readers
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

if ! /usr/bin/python3 -c 'import openpyxl' >/dev/null 2>&1; then
	apt_install python3-openpyxl
fi

# The README's pandas and R snippets for evaluation teams are run as written
# (internal/app TestReadmeSnippetsForEvaluationTeams): Debian's pandas, and R
# with readxl and readr.
if ! /usr/bin/python3 -c 'import pandas' >/dev/null 2>&1; then
	apt_install python3-pandas
fi
apt_install r-base-core r-cran-readxl r-cran-readr

# hyparquet (pinned in test/readers/package-lock.json) reads Parquet back.
"$here/npm-deps.sh" "$here/../test/readers"
