#!/usr/bin/env bash
# Make sure the services the Data Hub needs are answering:
#   PostgreSQL (with PostGIS) on 127.0.0.1:5432
#   Redis                     on 127.0.0.1:6379
# and that the scale-out tests find their programs (installed, not started):
#   pg_basebackup (PostgreSQL's), redis-server --sentinel, haproxy
#
# Usage: scripts/services.sh [--node]
#   --node   also install the federation test's npm packages (scripts/npm-deps.sh)
#
# Idempotent, and fast (a few checks, no apt) when all is already running.
# Servers already answering on the standard ports are used as they are.
# Otherwise Debian's packages are installed if missing and the servers are
# started WITHOUT systemd (CI boxes and containers have none). When this
# script installs PostgreSQL itself, it makes TCP connections from 127.0.0.1
# trusted for the users postgres and root (a dev/CI box only!), so that
# postgres://postgres@127.0.0.1:5432/postgres works without a password.
set -euo pipefail

SCRIPT_NAME=services
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

# The DATAHUB_* overrides exist only to test this script beside the real
# services; the project itself always uses the standard ports.
PG_HOST=127.0.0.1
PG_PORT=${DATAHUB_PG_PORT:-5432}
PG_CLUSTER=${DATAHUB_PG_CLUSTER:-main} # name of a cluster we create
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
# Left by this script when it installed PostgreSQL, so that a later run still
# finishes the trust set-up if an earlier one was interrupted.
PG_MARKER=${DATAHUB_PG_MARKER:-/var/lib/postgresql/.datahub-services-installed}

with_node=0
for arg in "$@"; do
	case $arg in
	--node) with_node=1 ;;
	-h | --help)
		sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*) die "unknown argument: $arg (try --help)" ;;
	esac
done

# ---------------------------------------------------------------- checks

pg_up() {
	command -v pg_isready >/dev/null 2>&1 &&
		pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2
}

redis_up() {
	local reply
	if command -v redis-cli >/dev/null 2>&1; then
		reply=$(timeout 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) || return 1
	else
		# No client (yet): speak the protocol over bash's /dev/tcp.
		reply=$(timeout 3 bash -c \
			'exec 3<>/dev/tcp/$0/$1 && printf "PING\r\n" >&3 && read -r r <&3 && printf %s "$r"' \
			"$REDIS_HOST" "$REDIS_PORT" 2>/dev/null) || return 1
	fi
	[[ $reply == *PONG* ]]
}

# The Debian cluster configured for port 5432, as "VERSION NAME STATUS".
pg_cluster() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2, $4; exit }'
}

# Major version of the server answering on 5432.
pg_major() {
	local c v
	c=$(pg_cluster)
	if [[ $c == *online* ]]; then
		echo "${c%% *}"
		return
	fi
	# Not a Debian-managed cluster we can see: ask the server.
	v=$(PGCONNECT_TIMEOUT=3 psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
		-tAc 'SHOW server_version_num' 2>/dev/null) || return 0
	[[ $v =~ ^[0-9]+$ ]] && echo $((v / 10000))
}

# ---------------------------------------------------------------- Redis

ensure_redis() {
	redis_up && return 0
	log "Redis is not answering on $REDIS_HOST:$REDIS_PORT"
	if ! command -v redis-server >/dev/null 2>&1; then
		apt_install redis-server
		# The package's own start (if any) may already have brought it up.
		redis_up && return 0
	fi
	as_root mkdir -p /var/lib/redis /var/log/redis
	log "starting redis-server (no systemd)"
	as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
		--save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
		die "redis-server failed to start; see /var/log/redis/ci.log"
	wait_for "Redis on $REDIS_HOST:$REDIS_PORT (log: /var/log/redis/ci.log)" 40 redis_up
	log "Redis is up"
}

# ---------------------------------------------------------------- PostgreSQL

pg_server_installed() {
	compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

start_pg() {
	local c ver name major
	c=$(pg_cluster)
	if [[ -z $c ]]; then
		# The newest installed server version.
		major=$(for p in /usr/lib/postgresql/*/bin/postgres; do
			[[ -x $p ]] && basename "$(dirname "$(dirname "$p")")"
		done | sort -n | tail -n 1)
		[[ -n $major ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
		[[ ! -e /etc/postgresql/$major/$PG_CLUSTER ]] ||
			die "cluster $major/$PG_CLUSTER exists but is not set to port $PG_PORT; fix it or free the port (pg_lsclusters)"
		log "creating cluster $major/$PG_CLUSTER on port $PG_PORT"
		as_root pg_createcluster --locale=C.UTF-8 --port="$PG_PORT" "$major" "$PG_CLUSTER" >&2 ||
			die "pg_createcluster $major $PG_CLUSTER failed"
		c="$major $PG_CLUSTER down"
	fi
	read -r ver name _ <<<"$c"
	log "starting PostgreSQL cluster $ver/$name (no systemd)"
	# Fails harmlessly when the cluster is already running; the wait decides.
	as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2 || true
}

# Trust TCP connections from localhost for postgres and root (dev/CI only).
trust_local() {
	local c ver name hba tmp
	c=$(pg_cluster)
	[[ -n $c ]] || return 0
	read -r ver name _ <<<"$c"
	hba=/etc/postgresql/$ver/$name/pg_hba.conf
	[[ -f $hba ]] || return 0
	if ! grep -q 'datahub scripts/services.sh' "$hba"; then
		log "trusting TCP connections from 127.0.0.1/::1 for postgres and root in $hba"
		tmp=$(mktemp)
		{
			echo '# Added by datahub scripts/services.sh (dev/CI box): local TCP without password.'
			echo 'host    all    postgres    127.0.0.1/32    trust'
			echo 'host    all    root        127.0.0.1/32    trust'
			echo 'host    all    postgres    ::1/128         trust'
			echo 'host    all    root        ::1/128         trust'
			echo
			as_root cat "$hba"
		} >"$tmp"
		as_root cp "$tmp" "$hba"
		rm -f "$tmp"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >&2 ||
			die "could not reload PostgreSQL $ver/$name after editing $hba"
	fi
	# A root role (and database) so that plain `psql -h 127.0.0.1` works as root.
	as_root runuser -u postgres -- psql -X -q -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 >/dev/null <<-'SQL' ||
		SELECT 'CREATE ROLE root SUPERUSER LOGIN'
		WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'root') \gexec
		SELECT 'CREATE DATABASE root OWNER root'
		WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'root') \gexec
	SQL
		log "warning: could not create the root role/database (continuing)"
}

ensure_postgres() {
	if ! pg_up; then
		log "PostgreSQL is not answering on $PG_HOST:$PG_PORT"
		if ! pg_server_installed; then
			apt_install postgresql
			as_root touch "$PG_MARKER"
		fi
		# The package's own start (if any) may already have brought it up.
		pg_up || start_pg
		wait_for "PostgreSQL on $PG_HOST:$PG_PORT (logs: /var/log/postgresql/)" 60 pg_up
		log "PostgreSQL is up"
	fi
	if [[ -e $PG_MARKER ]]; then
		trust_local
	fi
}

# PostGIS for the running server's major version. dpkg is asked first so the
# common path needs no apt; apt waits for a lock held by another install.
ensure_postgis() {
	local major pkg
	major=$(pg_major)
	if [[ -z $major ]]; then
		log "warning: cannot tell the PostgreSQL server's version; not checking PostGIS"
		return 0
	fi
	if [[ ! -x /usr/lib/postgresql/$major/bin/postgres ]]; then
		log "warning: PostgreSQL $major on $PG_PORT is not a local Debian server; make sure it has PostGIS 3"
		return 0
	fi
	pkg=postgresql-$major-postgis-3
	pkg_installed "$pkg" || apt_install "$pkg"
}

# ---------------------------------------------------------------- scale-out tests

# The replica, Sentinel and fleet tests start their own servers; they need
# the programs only. Debian's haproxy package would start a service where
# systemd runs; the tests use their own configuration and ports.
ensure_scaleout_tools() {
	pkg_installed haproxy || apt_install haproxy
}

# ---------------------------------------------------------------- main

ensure_postgres
ensure_postgis
ensure_redis
ensure_scaleout_tools

if ((with_node)); then
	"$here/npm-deps.sh"
fi
