# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.
#
# Everything here is meant for a Debian 12 dev or CI box: we may be root (CI)
# or a developer with sudo.

set -o pipefail

log() { printf '[%s] %s\n' "${SCRIPT_NAME:-datahub}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${SCRIPT_NAME:-datahub}" "$*" >&2; exit 1; }

# as_root CMD...: run CMD as root (directly when we are root, else via sudo).
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -- "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# pkg_installed PKG: true when dpkg has PKG fully installed (not merely
# unpacked or half-configured, as it is while another apt run is busy).
pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# apt_run ARGS...: apt-get with no prompts, tolerating a busy apt/dpkg lock
# (another apt run in the background): apt waits up to 300 s for the dpkg lock
# itself, and we retry on any lock error for up to APT_LOCK_WAIT seconds more.
# A dpkg interrupted earlier is repaired once with `dpkg --configure -a`.
apt_run() {
	local deadline=$((SECONDS + ${APT_LOCK_WAIT:-600})) out rc repaired=0
	out=$(mktemp)
	while :; do
		rc=0
		as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
			-o DPkg::Lock::Timeout=300 \
			-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
			"$@" </dev/null 2>&1 | tee "$out" >&2 || rc=$? # needs pipefail
		if [[ $rc -eq 0 ]]; then
			rm -f "$out"
			return 0
		fi
		if grep -v '^Waiting for cache lock' "$out" |
			grep -qiE 'could not get lock|unable to (acquire|lock)|is another process using it' &&
			((SECONDS < deadline)); then
			log "apt/dpkg is locked by another process; retrying in 5 s"
			sleep 5
			continue
		fi
		if ((!repaired)) && grep -q 'dpkg --configure -a' "$out"; then
			repaired=1
			log "dpkg was interrupted; running dpkg --configure -a"
			as_root env DEBIAN_FRONTEND=noninteractive dpkg --configure -a </dev/null >&2 || true
			continue
		fi
		rm -f "$out"
		return "$rc"
	done
}

# apt_install PKG...: install the packages not yet installed. Runs
# `apt-get update` first (once per script run).
APT_UPDATED=${APT_UPDATED:-0}
apt_install() {
	local missing=() p
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	command -v apt-get >/dev/null 2>&1 ||
		die "missing packages (${missing[*]}) and no apt-get: install them by hand"
	if ((!APT_UPDATED)); then
		log "apt-get update"
		apt_run update || die "apt-get update failed"
		APT_UPDATED=1
	fi
	log "installing: ${missing[*]}"
	apt_run install --no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
}

# wait_for DESCRIPTION TRIES CMD...: run CMD every 0.5 s until it succeeds,
# at most TRIES times; die with a clear message otherwise.
wait_for() {
	local what=$1 tries=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	die "$what did not come up after $((tries / 2)) s (check: $*)"
}
