#!/usr/bin/env bash
# Probe for bench/postgres-headroom.ts (BENCHMARKS.md, tenth round): CPU per new PostgreSQL
# connection on this machine — a throwaway cluster with the local stack's settings (trust on
# loopback, fsync off), `pgbench -C` (a new connection per transaction) running `SELECT 1` for T
# seconds, and the postmaster's own CPU plus that of the backends it forked and reaped
# (/proc/<pid>/stat utime+stime+cutime+cstime). Root only (runs PostgreSQL as the postgres user).
#   T=10 bench/postgres-connection-cost.sh          EXTRA="-c shared_buffers=16MB" T=10 bench/postgres-connection-cost.sh
set -euo pipefail
B=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
D=$(mktemp -d /tmp/pgconn-XXXX); chmod 755 $D; chown postgres $D
setpriv --reuid=$(id -u postgres) --regid=$(id -g postgres) --init-groups $B/initdb -D $D/data -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
EXTRA="${EXTRA:-}"
setpriv --reuid=$(id -u postgres) --regid=$(id -g postgres) --init-groups $B/postgres -D $D/data -c port=55432 -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off $EXTRA >$D/log 2>&1 &
PM=$!
sleep 2
echo 'SELECT 1;' > $D/q.sql
t() { awk '{print $14+$15+$16+$17}' /proc/$PM/stat; }
a=$(t)
$B/pgbench -h 127.0.0.1 -p 55432 -U postgres -n -C -c 2 -T ${T:-10} -f $D/q.sql postgres 2>&1 | grep -E "number of transactions actually|tps"
b=$(t)
echo "postmaster+children CPU: $((b-a)) ticks (CLK_TCK $(getconf CLK_TCK)); divide by the transactions for CPU per connection"
kill -INT $PM; wait $PM || true
rm -rf $D
