#!/usr/bin/env bash
# Create the application database named by DATABASE_URL if it does not exist.
#
# Usage: DATABASE_URL=postgres://user@host:port/name?opts scripts/createdb.sh
#   default: postgres://postgres@127.0.0.1:5432/datahub?sslmode=disable
#
# It connects to the `postgres` database on the same server, as the same
# user, to check and create (override that URL with ADMIN_DATABASE_URL).
# Run scripts/services.sh first.
set -euo pipefail

SCRIPT_NAME=createdb
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/datahub?sslmode=disable}

# Split scheme://authority/dbname?query without any external parser.
[[ $url == *://* ]] || die "DATABASE_URL is not a postgres:// URL: $url"
scheme=${url%%://*}
rest=${url#*://}
query=
if [[ $rest == *\?* ]]; then
	query="?${rest#*\?}"
	rest=${rest%%\?*}
fi
authority=${rest%%/*}
db=
[[ $rest == */* ]] && db=${rest#*/}
db=$(printf '%b' "${db//%/\\x}") # percent-decode
[[ -n $db ]] || die "DATABASE_URL names no database: $url"

admin_url=${ADMIN_DATABASE_URL:-$scheme://$authority/postgres$query}
# For messages: hide a password, if any.
shown=$(sed -E 's#(://[^:/@]+):[^@/]*@#\1:***@#' <<<"$admin_url")

command -v psql >/dev/null 2>&1 || apt_install postgresql-client

psql_admin() {
	PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10} psql "$admin_url" -X -w -q -v ON_ERROR_STOP=1 -v db="$db" "$@"
}

exists=$(psql_admin -tA <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
) || die "cannot connect to $shown (run scripts/services.sh; the user needs password-less access from 127.0.0.1, or put the password in the URL)"

if [[ $exists == 1 ]]; then
	exit 0
fi
log "creating database \"$db\""
psql_admin <<'SQL' || die "could not create database \"$db\" via $shown"
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
