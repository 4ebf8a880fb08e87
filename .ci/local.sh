#!/usr/bin/env bash
# Prepares `make run`: writes a local config if there is none, and starts a
# local PostgreSQL cluster when database.url does not answer.
#   .ci/local.sh CONFIG PGDIR PORT
set -euo pipefail
cd "$(dirname "$0")/.."
config=$1
pgdir=$2
port=$3

if [ ! -f "$config" ]; then
	token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	cat >"$config" <<CONF
# Written by \`make run\` for local use; edit freely (it is not committed).
# Without WeChat credentials, \`serve\` runs the simulated WeChat (sandbox mode).
[server]
listen = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"

[database]
url = "postgres://postgres@127.0.0.1:$port/hotline?sslmode=disable"

[admin]
token = "$token"
CONF
	echo "wrote $config (admin token: $token)"
fi

url=${HOTLINEBOT_DATABASE_URL:-$(sed -n 's/^[[:space:]]*url[[:space:]]*=[[:space:]]*"\(postgres[^"]*\)".*/\1/p' "$config" | head -n 1)}
pgready() {
	local b
	b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -n "$b" ]; then "$b/pg_isready" -q -d "$1"; elif command -v pg_isready >/dev/null; then pg_isready -q -d "$1"; else return 1; fi
}
if [ -n "$url" ] && pgready "$url" 2>/dev/null; then
	exit 0
fi
echo "database.url does not answer: starting a local PostgreSQL in $pgdir on port $port"
./.ci/pg.sh start "$pgdir" "$port"
admin=$(./.ci/pg.sh url "$port")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
db=$(echo "$url" | sed -n 's#^postgres[^/]*//[^/]*/\([^?]*\).*#\1#p')
db=${db:-hotline}
if ! "$bin/psql" -q -d "$admin" -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
	"$bin/psql" -q -d "$admin" -c "create database \"$db\""
fi
