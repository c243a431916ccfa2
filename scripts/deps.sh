#!/usr/bin/env bash
# Installs the build and test dependencies of digestgate on Debian 12 with apt-get.
# Idempotent: silent when everything is present; `apt-get update` runs only when something is
# missing. Extra package names may be given as arguments. Needs root (or sudo) to install.
set -euo pipefail

packages=(
  build-essential cmake libboost1.81-dev libboost-url1.81-dev libsqlite3-dev libssl-dev libpq-dev
  nlohmann-json3-dev doctest-dev libpugixml-dev libyaml-dev pkg-config
  sqlite3 openssl ca-certificates curl clang-format
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [ "$status" != installed ]; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: missing ${missing[*]}; run as root" >&2; exit 1; }
  sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
