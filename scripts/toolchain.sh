#!/usr/bin/env bash
# Make sure the build tools `make test` needs besides Go are there:
# a C compiler and libc headers, for cgo and so for `go test -race`.
# Fast no-op when they are.
set -euo pipefail

SCRIPT_NAME=toolchain
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

cc=${CC:-gcc}
if command -v "${cc%% *}" >/dev/null 2>&1 && [[ -e /usr/include/stdlib.h ]]; then
	exit 0
fi
apt_install gcc libc6-dev
