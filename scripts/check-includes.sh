#!/usr/bin/env bash
# Checks the include rules of docs/architecture.md on the product's rooms (tests/, bench/ and
# fuzz/ may include anything): Beast and Asio only in the three translation units that speak HTTP
# over sockets, SQLite and libpq only in ledger/, and the layering util -> ledger/policy ->
# registry/intake -> daemon/cli one way. Prints every violation and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

status=0
# violations PATTERN ALLOWED_REGEX DIRS... : lines of DIRS' sources including PATTERN outside ALLOWED.
violations() {
  local pattern=$1 allowed=$2
  shift 2
  local dirs=()
  for d in "$@"; do [ -d "$d" ] && dirs+=("$d"); done
  [ ${#dirs[@]} -eq 0 ] && return 0
  grep -rnE --include='*.cpp' --include='*.hpp' "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" \
    "${dirs[@]}" | grep -vE "^($allowed):" || true
}
rule() {
  local what=$1 found
  shift
  found=$(violations "$@")
  if [ -n "$found" ]; then
    echo "check-includes: $what:" >&2
    echo "$found" >&2
    status=1
  fi
}

rooms=(util ledger policy registry intake daemon cli)
rule "Beast/Asio outside the HTTP translation units" 'boost/(beast|asio)' \
  'daemon/http_server\.cpp|cli/http_client\.cpp|registry/beast_transport\.cpp' "${rooms[@]}"
rule "SQLite or libpq outside ledger/" 'sqlite3\.h|libpq-fe\.h|pqxx' 'ledger/[^:]*' "${rooms[@]}"
rule "util/ including another room" '(ledger|policy|registry|intake|daemon|cli)/' '^$' util
rule "policy/ including daemon, ledger, registry, intake or cli" \
  '(ledger|registry|intake|daemon|cli)/' '^$' policy
rule "ledger/ including policy, registry, intake, daemon or cli" \
  '(policy|registry|intake|daemon|cli)/' '^$' ledger
rule "registry/ or intake/ including daemon, ledger or cli" '(daemon|ledger|cli)/' '^$' \
  registry intake
rule "daemon/ including cli" 'cli/' '^$' daemon
rule "cli/ including daemon" 'daemon/' '^$' cli
[ $status -eq 0 ] && echo "check-includes: the include rules of docs/architecture.md hold"
exit $status
