#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests or local runs.
#   .ci/pg.sh start DIR PORT   → initdb (once) + pg_ctl start; prints nothing on success
#   .ci/pg.sh stop DIR
#   .ci/pg.sh url PORT         → the superuser URL for that cluster
# PostgreSQL refuses to run as root, so as root its programs run as `postgres`
# on a data folder that user owns. Debian keeps them under
# /usr/lib/postgresql/<version>/bin; if none is there, Debian's package is installed.
set -euo pipefail

pgbin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$d" ] && command -v pg_ctl >/dev/null 2>&1; then
		d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
	fi
	if [ -z "$d" ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			echo "pg.sh: installing Debian's postgresql" >&2
			DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
			d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
		else
			echo "pg.sh: no PostgreSQL found; install it (Debian: apt-get install postgresql)" >&2
			exit 1
		fi
	fi
	echo "$d"
}

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
case "$cmd" in
start)
	dir=$2
	port=$3
	bin=$(pgbin)
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
		chown postgres "$dir"
		chmod 700 "$dir"
	fi
	if [ ! -f "$dir/PG_VERSION" ]; then
		as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
			as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 >"$dir.initdb.log" 2>&1 ||
			{ cat "$dir.initdb.log" >&2; exit 1; }
	fi
	if as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		exit 0
	fi
	as_pg "$bin/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" \
		-o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c max_connections=200" start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	;;
stop)
	bin=$(pgbin)
	as_pg "$bin/pg_ctl" -D "$2" -m fast stop >/dev/null 2>&1 || true
	;;
url)
	echo "postgres://postgres@127.0.0.1:$2/postgres?sslmode=disable"
	;;
freeport)
	python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
	;;
*)
	echo "usage: pg.sh start DIR PORT | stop DIR | url PORT | freeport" >&2
	exit 2
	;;
esac
