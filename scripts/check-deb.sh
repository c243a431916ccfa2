#!/usr/bin/env bash
# Builds the Debian package in BUILD_DIR (`cpack -G DEB`) and checks it:
#   1. its control data (name, maintainer, dependencies, maintainer scripts) and its file list;
#   2. from an extracted copy: the unit's commands exist in the package, and the example
#      configuration and policy are accepted by the packaged daemon, which serves with them;
#   3. a real installation on this machine: the digestgate user and /var/lib/digestgate,
#      /etc/digestgate from the examples, `digestgated init` and the daemon run as the service would
#      run them (user digestgate, umask 0077), a reinstallation that keeps an edited /etc/digestgate,
#      then removal and purge.
# Usage: scripts/check-deb.sh BUILD_DIR
# BUILD_DIR is a configured (Release) build directory; cpack builds what is missing. Step 3 needs
# root and changes the machine while it runs (meant for a throwaway CI machine); on exit the package
# is purged and the user, group and directories it created are removed, unless they existed before.
# It refuses to run when a digestgate package is already installed.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/CPackConfig.cmake" ]; then
  echo "usage: scripts/check-deb.sh BUILD_DIR (a configured build directory with CPackConfig.cmake)" >&2
  exit 2
fi
build_dir=$(realpath "$1")
if [ "$(id -u)" -ne 0 ]; then
  echo "check-deb: installs the package into this machine; run as root" >&2
  exit 1
fi
for tool in cpack dpkg-deb dpkg apt-get curl setpriv python3 readelf; do
  command -v "$tool" >/dev/null || { echo "check-deb: $tool is required" >&2; exit 1; }
done

# Running as the service user needs a root directory that other users may search; a sandbox
# unpacked into a private directory has none.
as_user=no
if [ $((0$(stat -c %a /) & 1)) -eq 1 ]; then
  as_user=yes
fi

work=$(mktemp -d)
chmod 0755 "$work" # the digestgate user reaches its state directory below it
pids=()
installed=no
had_user=no
had_group=no
had_state=no
had_etc=no
getent passwd digestgate >/dev/null && had_user=yes
getent group digestgate >/dev/null && had_group=yes
[ -e /var/lib/digestgate ] && had_state=yes
[ -e /etc/digestgate ] && had_etc=yes

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  if [ "$installed" = yes ]; then
    dpkg --purge digestgate >/dev/null 2>&1 || true
  fi
  # Left in place by purge on purpose (see packaging/debian/postrm); removed here only when this
  # run created them.
  [ "$had_state" = yes ] || rm -rf /var/lib/digestgate
  [ "$had_etc" = yes ] || rm -rf /etc/digestgate
  if [ "$had_user" = no ] && getent passwd digestgate >/dev/null; then
    userdel digestgate 2>/dev/null || true
  fi
  if [ "$had_group" = no ] && getent group digestgate >/dev/null; then
    groupdel digestgate 2>/dev/null || true
  fi
  rm -rf "$work"
  if [ $status -ne 0 ]; then
    echo "check-deb: FAILED" >&2
  fi
  exit $status
}
trap cleanup EXIT

fail() {
  echo "check-deb: $*" >&2
  exit 1
}

# expect_mode PATH MODE OWNER:GROUP
expect_mode() {
  local actual
  actual=$(stat -c '%a %U:%G' "$1")
  [ "$actual" = "$2 $3" ] || fail "$1 is $actual, expected $2 $3"
}

# serve_and_probe DAEMON CONFIG STATE_DIR [setpriv arguments...]: starts the daemon as the service
# does (umask 0077, optionally as another user), waits for <state_dir>/listen-address, checks
# /healthz and /readyz, then stops it with SIGTERM and expects exit status 0.
serve_and_probe() {
  local daemon=$1 config=$2 state=$3
  shift 3
  local log=$work/serve.$RANDOM.log
  (
    umask 0077
    if [ $# -gt 0 ]; then
      exec setpriv "$@" -- "$daemon" --config "$config"
    fi
    exec "$daemon" --config "$config"
  ) 2>"$log" &
  local pid=$!
  pids+=("$pid")
  local address=
  for _ in $(seq 100); do
    if [ -s "$state/listen-address" ]; then
      address=$(cat "$state/listen-address")
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$address" ]; then
    cat "$log" >&2
    fail "$daemon --config $config did not start serving"
  fi
  curl -fsS "http://$address/healthz" >/dev/null || fail "GET /healthz failed"
  curl -fsS "http://$address/readyz" >/dev/null || fail "GET /readyz failed"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$address/v1/policy")" = 401 ] ||
    fail "GET /v1/policy without a token was not refused with 401"
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  pids=("${pids[@]/$pid/}")
  if [ $status -ne 0 ]; then
    cat "$log" >&2
    fail "the daemon exited with status $status on SIGTERM"
  fi
}

# derive_config SOURCE TARGET STATE_DIR POLICY: the example configuration, listening on a free port
# with its own state directory and policy file; every other field as given.
derive_config() {
  python3 - "$@" <<'EOF'
import json, sys
source, target, state_dir, policy = sys.argv[1:5]
with open(source) as f:
    config = json.load(f)
config.update(listen="127.0.0.1:0", state_dir=state_dir, policy=policy)
with open(target, "w") as f:
    json.dump(config, f)
EOF
  chmod 0644 "$2"
}

if dpkg-query -W -f='${db:Status-Status}' digestgate 2>/dev/null | grep -q installed; then
  fail "a digestgate package is installed on this machine; remove it first (dpkg --purge digestgate)"
fi

echo "check-deb: cpack -G DEB in $build_dir"
rm -f "$build_dir"/digestgate_*.deb
(cd "$build_dir" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack failed"; }
debs=("$build_dir"/digestgate_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  fail "expected one digestgate_*.deb in $build_dir"
fi
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
echo "check-deb: $(basename "$deb") ($(du -h "$deb" | cut -f1))"

echo "check-deb: control data"
[ "$(dpkg-deb -f "$deb" Package)" = digestgate ] || fail "Package is not digestgate"
[ "$(dpkg-deb -f "$deb" Maintainer)" = "digestgate maintainers <digestgate@example.org>" ] ||
  fail "unexpected Maintainer: $(dpkg-deb -f "$deb" Maintainer)"
depends=$(dpkg-deb -f "$deb" Depends)
# One package name a line, without version constraints.
sed -E 's/, */\n/g' <<<"$depends" | sed -E 's/[ (].*//' >"$work/depends.txt"
for lib in libc6 libstdc++6 libssl3 libsqlite3-0 procps; do
  grep -qxF "$lib" "$work/depends.txt" || fail "Depends lacks $lib: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -tvf - >"$work/control.txt"
for script in postinst prerm postrm; do
  grep -qE "^-rwxr-xr-x .* \./$script$" "$work/control.txt" || fail "control: $script missing or not 0755"
done
grep -q conffiles "$work/control.txt" && fail "the package declares conffiles; /etc/digestgate is postinst's"

echo "check-deb: file list"
dpkg-deb -c "$deb" | awk '{print $1, $NF}' >"$work/files.txt"
for entry in \
  "-rwxr-xr-x ./usr/bin/digestgated" \
  "-rwxr-xr-x ./usr/bin/digestgate" \
  "-rw-r--r-- ./usr/lib/systemd/system/digestgated.service" \
  "-rw-r--r-- ./usr/lib/sysusers.d/digestgate.conf" \
  "-rw-r--r-- ./usr/lib/tmpfiles.d/digestgate.conf" \
  "-rw-r--r-- ./usr/share/digestgate/config.example.json" \
  "-rw-r--r-- ./usr/share/digestgate/policy.example.json" \
  "-rw-r--r-- ./usr/share/doc/digestgate/examples/config.example.json" \
  "-rw-r--r-- ./usr/share/doc/digestgate/examples/policy.example.json" \
  "-rw-r--r-- ./usr/share/doc/digestgate/README.Debian"; do
  grep -qxF -- "$entry" "$work/files.txt" || fail "the package lacks $entry"
done
outside=$(awk '{print $2}' "$work/files.txt" | grep -vE '^\./(usr/?.*)?$' || true)
[ -z "$outside" ] || fail "the package installs outside /usr: $outside"

echo "check-deb: extracted package"
root=$work/root
dpkg-deb -x "$deb" "$root"
for bin in digestgated digestgate; do
  readelf -S "$root/usr/bin/$bin" | grep -q '\.symtab' && fail "/usr/bin/$bin is not stripped"
done
unit=$root/usr/lib/systemd/system/digestgated.service
grep -E '^Exec[A-Za-z]*=' "$unit" | sed -E 's/^[^=]*=[-@:+!]*//; s/ .*//' | sort -u |
  while read -r command; do
    case $command in
      /usr/bin/digestgated) [ -x "$root$command" ] || fail "$command is not in the package" ;;
      *) [ -x "$command" ] || fail "the unit runs $command, which this system lacks" ;;
    esac
  done
grep -qx 'u digestgate - "digestgate daemon" /var/lib/digestgate' "$root/usr/lib/sysusers.d/digestgate.conf" ||
  fail "sysusers.d entry differs"
grep -qx 'd /var/lib/digestgate 0700 digestgate digestgate -' "$root/usr/lib/tmpfiles.d/digestgate.conf" ||
  fail "tmpfiles.d entry differs"
[ "$("$root/usr/bin/digestgated" --version)" = "digestgated $version" ] || fail "digestgated --version"
[ "$("$root/usr/bin/digestgate" --version)" = "digestgate $version" ] || fail "digestgate --version"
# The examples must be accepted as they are: the daemon refuses unknown fields and bad values.
mkdir -m 0700 "$work/extracted-state"
"$root/usr/bin/digestgated" init --state-dir "$work/extracted-state" >/dev/null
derive_config "$root/usr/share/digestgate/config.example.json" "$work/extracted.json" \
  "$work/extracted-state" "$root/usr/share/digestgate/policy.example.json"
serve_and_probe "$root/usr/bin/digestgated" "$work/extracted.json" "$work/extracted-state"

echo "check-deb: apt-get install $deb"
installed=yes
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 "$deb" \
  >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "installation failed"; }
[ "$(dpkg-query -W -f='${db:Status-Status} ${Version}' digestgate)" = "installed $version" ] ||
  fail "digestgate $version is not installed"
[ "$(/usr/bin/digestgated --version)" = "digestgated $version" ] || fail "digestgated --version"
[ "$(/usr/bin/digestgate --version)" = "digestgate $version" ] || fail "digestgate --version"

IFS=: read -r _ _ uid _ _ home shell < <(getent passwd digestgate) || fail "no digestgate user"
[ "$uid" -lt 1000 ] || fail "digestgate is not a system user (uid $uid)"
[ "$home" = /var/lib/digestgate ] || fail "digestgate's home is $home"
case $shell in */nologin | */false) ;; *) fail "digestgate's shell is $shell" ;; esac
getent group digestgate >/dev/null || fail "no digestgate group"
if [ "$had_state" = no ]; then
  expect_mode /var/lib/digestgate 700 digestgate:digestgate
fi
if [ "$had_etc" = no ]; then
  for name in config policy; do
    expect_mode "/etc/digestgate/$name.json" 640 root:digestgate
    cmp -s "/etc/digestgate/$name.json" "/usr/share/digestgate/$name.example.json" ||
      fail "/etc/digestgate/$name.json differs from its example"
  done
  # Readable through the group, as the service reads it.
  if [ "$as_user" = yes ]; then
    setpriv --reuid=digestgate --regid=digestgate --init-groups -- cat /etc/digestgate/config.json \
      >/dev/null || fail "user digestgate cannot read /etc/digestgate/config.json"
  fi
fi
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no /usr/lib/systemd/system/digestgated.service 2>"$work/verify.log" ||
    { cat "$work/verify.log" >&2; fail "systemd-analyze verify of the installed unit failed"; }
  [ -s "$work/verify.log" ] && { cat "$work/verify.log" >&2; fail "systemd-analyze verify reported problems"; }
fi

echo "check-deb: digestgated init"
init_dir=$(mktemp -d)/s
/usr/bin/digestgated init --state-dir "$init_dir" >"$work/init.log" || fail "digestgated init failed"
expect_mode "$init_dir" 700 root:root
expect_mode "$init_dir/checkpoint.key" 600 root:root
for file in ledger.db checkpoint.pub; do
  [ -f "$init_dir/$file" ] || fail "init did not create $init_dir/$file"
done
key_before=$(sha256sum <"$init_dir/checkpoint.key")
/usr/bin/digestgated init --state-dir "$init_dir" >"$work/init2.log" || fail "a second init failed"
grep -q 'already present' "$work/init2.log" || fail "a second init did not report existing state"
[ "$(sha256sum <"$init_dir/checkpoint.key")" = "$key_before" ] || fail "a second init replaced the key"
rm -rf "$(dirname "$init_dir")"

if [ "$as_user" = yes ]; then
echo "check-deb: ExecStartPre and ExecStart as user digestgate"
state=$work/service-state
install -d -m 0700 -o digestgate -g digestgate "$state"
policy=$work/policy.json
cp /usr/share/digestgate/policy.example.json "$policy"
derive_config /usr/share/digestgate/config.example.json "$work/service.json" "$state" "$policy"
(umask 0077 && setpriv --reuid=digestgate --regid=digestgate --init-groups -- \
  /usr/bin/digestgated init --state-dir "$state" >/dev/null) || fail "init as digestgate failed"
expect_mode "$state/checkpoint.key" 600 digestgate:digestgate
serve_and_probe /usr/bin/digestgated "$work/service.json" "$state" \
  --reuid=digestgate --regid=digestgate --init-groups
else
  echo "check-deb: / is not searchable by other users here (a sandboxed root), so nothing can run"
  echo "check-deb: as user digestgate; the checks that do are skipped"
fi

if [ "$had_etc" = no ]; then
  echo "check-deb: reinstallation keeps /etc/digestgate"
  printf '\n' >>/etc/digestgate/policy.json
  edited=$(sha256sum </etc/digestgate/policy.json)
  dpkg -i "$deb" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log" >&2; fail "reinstallation failed"; }
  [ "$(sha256sum </etc/digestgate/policy.json)" = "$edited" ] || fail "reinstallation replaced policy.json"
fi

echo "check-deb: dpkg -r digestgate, dpkg --purge digestgate"
dpkg -r digestgate >"$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "dpkg -r failed"; }
for path in /usr/bin/digestgated /usr/bin/digestgate /usr/lib/systemd/system/digestgated.service; do
  [ ! -e "$path" ] || fail "$path is left after dpkg -r"
done
if [ "$had_etc" = no ]; then
  [ -f /etc/digestgate/config.json ] || fail "dpkg -r removed /etc/digestgate/config.json"
fi
dpkg --purge digestgate >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge failed"; }
installed=no
if [ "$had_etc" = no ]; then
  [ ! -e /etc/digestgate ] || fail "/etc/digestgate is left after purge"
fi
[ -d /var/lib/digestgate ] || fail "purge removed /var/lib/digestgate (the ledger is kept)"

echo "check-deb: OK ($(basename "$deb"))"
