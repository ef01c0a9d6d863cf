#!/usr/bin/env bash
# Run a command with a private PostgreSQL 15 + PostGIS server on loopback, for the store tests.
#
# The server lives in a fresh temporary folder, listens on a free port of 127.0.0.1 only, runs
# as user postgres (when we are root) and is stopped and removed when the command ends, however
# it ends. Its URL is exported as HATANGSO_TEST_DATABASE_URL. Where the server cannot be
# started, the command runs without it and HATANGSO_TEST_POSTGIS_SKIP says why: the PostGIS
# half of the store tests skips with that reason. An existing HATANGSO_TEST_DATABASE_URL is
# used as it is.
set -u
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

if [ -n "${HATANGSO_TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

skip() {
  local reason=$1
  shift
  echo "with_postgis: $reason; the PostGIS store tests will skip" >&2
  HATANGSO_TEST_POSTGIS_SKIP="$reason" exec "$@"
}

[ -x "$PGBIN/initdb" ] || skip "PostgreSQL 15 is not installed ($PGBIN/initdb)" "$@"
[ -f /usr/share/postgresql/15/extension/postgis.control ] \
  || skip "PostGIS for PostgreSQL 15 is not installed (postgresql-15-postgis-3)" "$@"

as_postgres=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || skip "there is no user postgres to run the server as" "$@"
  as_postgres=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/hatangso-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as_postgres[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$dir"
}
trap stop EXIT

if ! "${as_postgres[@]}" "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust \
      --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1; then
  cat "$dir/initdb.log" >&2
  trap - EXIT; stop
  skip "initdb failed" "$@"
fi
if ! "${as_postgres[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off" start >/dev/null; then
  cat "$dir/server.log" >&2
  trap - EXIT; stop
  skip "the PostgreSQL server did not start" "$@"
fi

export HATANGSO_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
echo "with_postgis: PostgreSQL 15 + PostGIS on 127.0.0.1:$port" >&2
"$@"
status=$?
exit $status
