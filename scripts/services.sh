#!/usr/bin/env bash
# Make sure the local services the integration tests use are up (PostgreSQL, MariaDB).
# On this project's machines they are started before the session; this starts one that stopped.
set -u
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
maria_up() { mariadb-admin -uroot -h127.0.0.1 -P3306 ping >/dev/null 2>&1; }
if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! maria_up && [ -x /usr/sbin/mariadbd ]; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
for _ in $(seq 1 30); do pg_up && maria_up && exit 0; sleep 1; done
pg_up || echo "PostgreSQL is not answering on 127.0.0.1:5432 (start it: pg_ctlcluster <version> main start)" >&2
maria_up || echo "MariaDB is not answering on 127.0.0.1:3306 (start it: start-stop-daemon --start --background --exec /usr/sbin/mariadbd)" >&2
exit 0
