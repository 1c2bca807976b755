#!/usr/bin/env bash
# Fail when `go generate ./...` would change the generated code: the schema
# (or gqlgen.yml) changed without regenerating, or someone edited generated
# files by hand. Compares checksums before and after, so it works on a
# working tree with other uncommitted changes too.
set -euo pipefail

SCRIPT_NAME=generate-check
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
cd "$here/.."

sums() { find graph -name '*.go' -print0 | sort -z | xargs -0 sha256sum; }
before=$(sums)
go generate ./...
after=$(sums)
if [[ "$before" != "$after" ]]; then
	diff <(echo "$before") <(echo "$after") || true
	die "go generate ./... changed the files above: regenerate and commit them (never edit generated code by hand)"
fi
log "generated code is current"
