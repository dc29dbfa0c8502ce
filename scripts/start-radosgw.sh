#!/usr/bin/env bash
# Starts a one-node Ceph cluster on loopback (one monitor, one OSD on the in-memory `memstore`
# object store, cephx off) with a RADOS Gateway in front, for adapter-r2's second S3 server.
# Idempotent: when the gateway already answers, it only makes sure the test user exists.
# Installs Debian's packages when they are missing (root only). Bounded: gives up after
# RGW_START_TIMEOUT seconds (default 180). Usable by hand: `bash scripts/start-radosgw.sh`.
#
# The tests reach it through RGW_ENDPOINT (default http://127.0.0.1:7480) with the access key
# pair below; nothing here is a secret, the cluster only listens on 127.0.0.1 and lives in memory.
set -euo pipefail

port="${RGW_PORT:-7480}"
dir="${RGW_DIR:-/tmp/proj-radosgw}"
timeout="${RGW_START_TIMEOUT:-180}"
access_key="proj-test"
secret_key="proj-test-secret"
deadline=$((SECONDS + timeout))

answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; }

ensure_user() {
  if ! radosgw-admin -c "$dir/ceph.conf" user info --uid=proj-test >/dev/null 2>&1; then
    radosgw-admin -c "$dir/ceph.conf" user create --uid=proj-test --display-name="proj tests" \
      --access-key="$access_key" --secret-key="$secret_key" >/dev/null
  fi
}

wait_until() { # what, command...
  local what=$1; shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "radosgw: $what not ready after ${timeout}s; logs in $dir/log" >&2
      return 1
    fi
    sleep 1
  done
}

if answers; then
  if [ ! -f "$dir/ceph.conf" ]; then
    echo "radosgw: something that is not this script's gateway answers on 127.0.0.1:$port" >&2
    exit 1
  fi
  ensure_user
  echo "RADOS Gateway answers on 127.0.0.1:$port (reused)"
  exit 0
fi

if ! command -v radosgw >/dev/null || ! command -v ceph-osd >/dev/null || ! command -v ceph-mon >/dev/null \
  || ! command -v curl >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "radosgw: Ceph is not installed; as root: apt-get install radosgw ceph-mon ceph-osd curl" >&2
    exit 1
  fi
  echo "installing Ceph (radosgw, ceph-mon, ceph-osd) from Debian's packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl >/dev/null
fi

# Leftovers of an earlier cluster (stopped, or the machine restarted: memstore kept nothing).
for pidfile in "$dir"/run/*.pid; do
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
done
rm -rf "$dir"
mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log" "$dir/rgw"

fsid=$(uuidgen)
cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:${RGW_MON_PORT:-6799}
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr2 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = 2147483648
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw dns name = localhost
rgw enable usage log = false
rgw thread pool size = 64
EOF

conf=(-c "$dir/ceph.conf")
monmaptool --create --clobber --addv a "[v1:127.0.0.1:${RGW_MON_PORT:-6799}]" --fsid "$fsid" "$dir/monmap" >/dev/null
# The daemons log to $dir/log; what they print on start is noise there too.
ceph-mon "${conf[@]}" -i a --mkfs --monmap "$dir/monmap" --keyring /dev/null
ceph-mon "${conf[@]}" -i a 2>>"$dir/log/start.log"
wait_until "the monitor" timeout 5 ceph "${conf[@]}" mon stat

# A monitor that has just formed its quorum may still refuse commands (EPERM) for a moment.
wait_until "the monitor's commands" timeout 10 ceph "${conf[@]}" osd stat
osd_id=""
until osd_id=$(timeout 10 ceph "${conf[@]}" osd create 2>/dev/null); do
  [ "$SECONDS" -lt "$deadline" ] || { echo "radosgw: could not register the OSD" >&2; exit 1; }
  sleep 1
done
ceph "${conf[@]}" osd crush add "osd.$osd_id" 1 root=default host=localhost >/dev/null 2>&1
ceph-osd "${conf[@]}" -i "$osd_id" --mkfs >/dev/null 2>&1
ceph-osd "${conf[@]}" -i "$osd_id" 2>>"$dir/log/start.log"
wait_until "the OSD" bash -c "ceph ${conf[*]} osd stat | grep -q '1 up'"

radosgw "${conf[@]}" -n client.rgw 2>>"$dir/log/start.log"
wait_until "the gateway" answers
ensure_user
echo "RADOS Gateway answers on 127.0.0.1:$port (started in ${SECONDS}s)"
