#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for trying a shared study store on one machine
# (zoo sweep/zoo tune --storage, zoo bench store), from Debian's server binaries (apt-get
# install postgresql). Prints its URL; `bash scripts/scratch_postgres.sh stop DIR` stops it.
#   url=$(bash scripts/scratch_postgres.sh start /tmp/zoo-pg 5433)
set -euo pipefail
action=${1:?start or stop}; dir=${2:?a directory for the cluster}; port=${3:-5433}
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | tail -1 || command -v pg_ctl)")
as=()
if [[ $(id -u) == 0 ]]; then as=(runuser -u postgres --); fi  # the server refuses to run as root
if [[ $action == stop ]]; then "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2; exit; fi
mkdir -p "$dir"
if [[ $(id -u) == 0 ]]; then chown postgres "$dir"; fi
[[ -e $dir/data ]] || "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >&2
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >&2
"${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres zoo 2>/dev/null || true
echo "postgresql://postgres@127.0.0.1:$port/zoo"
