#!/usr/bin/env bash
# A throwaway PostgreSQL cluster with mis_messaging installed in a private copy of
# the server, so that tests never touch the machine's own installation.
#
#   tests/cluster.sh start DIR [DBNAME]   install, initdb, start; writes DIR/env
#   tests/cluster.sh stop DIR             stop the server (by its pid) and remove DIR
#
# DIR/env sets PGHOST, PGPORT, PGUSER, PGDATABASE and MIS_PGBIN for the caller.
# PostgreSQL refuses to run as root, so as root the server runs as user postgres.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:?start or stop}"
dir="${2:?cluster directory}"
dbname="${3:-mis_test}"

pg_config=${PG_CONFIG:-pg_config}
bindir="$($pg_config --bindir)"
pkglibdir="$($pg_config --pkglibdir)"
sharedir="$($pg_config --sharedir)"

run_as=()
if [ "$(id -u)" -eq 0 ]; then
    run_as=(runuser -u postgres --)
fi

free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 20000))
        if ! ss -Hltn "sport = :$port" | grep -q .; then
            echo "$port"
            return
        fi
    done
    echo "no free port found" >&2
    return 1
}

start() {
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local inst="$dir/install"

    # A copy of the server with the extension installed into it, found by the
    # server relative to its own binary (as PostgreSQL's own temporary installs are).
    mkdir -p "$inst$(dirname "$bindir")" "$inst$(dirname "$sharedir")"
    cp -a "$bindir" "$inst$bindir"
    cp -a "$pkglibdir" "$inst$pkglibdir" 2>/dev/null || true
    cp -a "$sharedir" "$inst$sharedir"
    make -s -C "$here" install DESTDIR="$inst" >/dev/null

    local pgbin="$inst$bindir"
    local port
    port="$(free_port)"
    mkdir -p "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres: "$dir"
        chmod 755 "$dir"
    fi

    "${run_as[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir/sock'
shared_preload_libraries = 'mis_messaging'
messaging.database = '$dbname'
max_connections = 50
fsync = off
full_page_writes = off
synchronous_commit = off
log_line_prefix = '%m [%p] %b '
CONF
    [ -n "${MIS_EXTRA_CONF:-}" ] && printf '%s\n' "$MIS_EXTRA_CONF" >>"$dir/data/postgresql.conf"
    "${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

    cat >"$dir/env" <<ENV
export PGHOST='$dir/sock' PGPORT=$port PGUSER=postgres PGDATABASE='$dbname'
export MIS_PGBIN='$pgbin' MIS_CLUSTER='$dir'
ENV
    "$pgbin/createdb" -h "$dir/sock" -p "$port" -U postgres "$dbname"
}

stop() {
    [ -d "$dir" ] || return 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        local pid
        pid="$(head -1 "$dir/data/postmaster.pid")"
        kill -INT "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR [DBNAME]" >&2; exit 2 ;;
esac
