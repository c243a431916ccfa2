#!/usr/bin/env bash
# Checks the systemd unit without a running systemd (works in a container):
#   1. `systemd-analyze verify`: syntax, known directives, resolvable commands;
#   2. `systemd-analyze security --offline=true`: fails when the overall exposure level is above
#      $DG_MAX_EXPOSURE (default 2.0, on systemd's 0.0-10.0 scale).
# Usage: scripts/check-systemd.sh [BUILD_DIR [UNIT]]
# BUILD_DIR holds the built daemon (BUILD_DIR/daemon/digestgated); it defaults to build/ci. UNIT
# defaults to systemd/digestgated.service. Installs
# the systemd package with apt-get when systemd-analyze is missing (root or sudo needed then).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build/ci}
max_exposure=${DG_MAX_EXPOSURE:-2.0}
unit=${2:-$root/systemd/digestgated.service}
daemon=$build_dir/daemon/digestgated

if ! command -v systemd-analyze >/dev/null; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "check-systemd: systemd-analyze missing; run as root" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "check-systemd: installing systemd (for systemd-analyze)"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

if [ ! -x "$daemon" ]; then
  echo "check-systemd: $daemon not found; build the digestgated target in $build_dir first" >&2
  exit 1
fi
# A unit's commands are absolute paths.
daemon=$(realpath "$daemon")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# `systemd-analyze verify` insists that every Exec*= command exists, and the unit names the
# installed path /usr/bin/digestgated. `--root=DIR` would need a whole systemd tree (sysinit.target,
# /bin/kill) under DIR, so verify instead checks a copy of the unit, under the same name, whose
# /usr/bin/digestgated is the freshly built daemon. Nothing else in the unit is changed.
cp "$unit" "$work/digestgated.service"
sed -i "s|/usr/bin/digestgated|$daemon|g" "$work/digestgated.service"
if ! grep -q "^ExecStart=$daemon --config " "$work/digestgated.service"; then
  echo "check-systemd: ExecStart of $unit does not run /usr/bin/digestgated" >&2
  exit 1
fi
# The unit's User= need not exist on this machine: verify does not resolve it.
echo "check-systemd: systemd-analyze verify $unit"
if ! SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$work/digestgated.service" \
    2>"$work/verify.log"; then
  sed "s|$work/||g" "$work/verify.log" >&2
  echo "check-systemd: systemd-analyze verify failed" >&2
  exit 1
fi
# verify reports unknown directives and bad values as warnings with exit status 0.
if [ -s "$work/verify.log" ]; then
  sed "s|$work/||g" "$work/verify.log" >&2
  echo "check-systemd: systemd-analyze verify reported problems" >&2
  exit 1
fi

echo "check-systemd: systemd-analyze security --offline=true $unit"
systemd-analyze security --offline=true --no-pager "$unit" >"$work/security.txt" 2>&1 || true
# "→ Overall exposure level for digestgated.service: 1.1 OK 🙂"
line=$(grep -a 'Overall exposure level' "$work/security.txt" || true)
if [ -z "$line" ]; then
  cat "$work/security.txt" >&2
  echo "check-systemd: no overall exposure level in the output of systemd-analyze security" >&2
  exit 1
fi
exposure=$(sed -E 's/.*: *([0-9]+\.[0-9]+).*/\1/' <<<"$line")
if ! [[ $exposure =~ ^[0-9]+\.[0-9]+$ ]]; then
  echo "check-systemd: cannot read the exposure level from: $line" >&2
  exit 1
fi
grep -a '^✗' "$work/security.txt" || true
echo "check-systemd: exposure level $exposure (at most $max_exposure allowed)"
if awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; then
  echo "check-systemd: the unit's exposure level $exposure is above $max_exposure" >&2
  exit 1
fi
echo "check-systemd: OK"
