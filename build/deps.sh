#!/usr/bin/env bash
# Installs every build and test dependency of mod_claims on Debian 12 (bookworm) with apt-get,
# then the interop tests' npm packages (tests/interop, pinned by its package-lock.json) with
# `npm ci`. Idempotent; needs root (or sudo) for apt-get. Works from any directory.
#   build/deps.sh            what `make`, `make check` and `make demo` need
#   build/deps.sh --ci       also the fuzzing, packaging and benchmark tools (.ci/run)
#   --no-update              skip `apt-get update`
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ci=0
update=1
for arg in "$@"; do
  case "$arg" in
    --ci) ci=1 ;;
    --no-update) update=0 ;;
    *) echo "deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

PKGS=(
  # build
  build-essential autoconf automake libtool pkg-config
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  libjansson-dev libssl-dev libcurl4-openssl-dev libhiredis-dev
  # unit tests
  check valgrind cppcheck
  # integration tests
  python3 python3-pytest python3-requests python3-jwcrypto python3-cryptography
  curl openssl rsync
  # coexistence tests (issue 5): mod_auth_openidc also registers "Require claim"
  libapache2-mod-auth-openidc
  # fleet tests (issue 12): key sets shared through a real memcached and a real redis-server
  memcached redis-server
  # status page tests (issue 18): a real Prometheus scrapes it (promtool checks the exposition
  # and tests the alerting rules of conf/prometheus), headless Chromium renders the HTML page
  prometheus chromium
)
if [ "$ci" -eq 1 ]; then
  PKGS+=(
    # fuzzing (tests/fuzz): clang with libFuzzer and the sanitizer runtimes
    clang-14 libclang-rt-14-dev
    # packaging (make deb, deb-lint, rpmspec-check)
    debhelper dpkg-dev lintian rpm
    # benchmark and load tools (make bench, make load; not run by CI)
    wrk libapache2-mod-oauth2
  )
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

export DEBIAN_FRONTEND=noninteractive
apt_update() {
  if [ "$update" -eq 1 ]; then
    $SUDO apt-get update -qq
    update=0
  fi
}

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps.sh: all ${#PKGS[@]} packages already installed"
else
  apt_update
  echo "deps.sh: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Interop tests (tests/interop): npm oidc-provider, openid-client and jose at the versions of
# tests/interop/package-lock.json, installed into tests/interop/node_modules. Debian's nodejs and
# npm only where no node is on PATH at all (a NodeSource or other newer node is kept); bookworm's
# node (18) is older than the packages need (20.18), so then the install is skipped with a note
# and the interop tests skip themselves.
interop="$top/tests/interop"
node_min="20.18"
if ! command -v node >/dev/null 2>&1; then
  apt_update
  echo "deps.sh: no node on PATH, installing Debian's nodejs and npm"
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "deps.sh: node without npm on PATH; tests/interop not installed (install npm)" >&2
elif ! node -e 'const [a,b]=process.argv[1].split(".").map(Number), [x,y]=process.versions.node.split(".").map(Number); process.exit(x>a||(x===a&&y>=b)?0:1)' "$node_min"; then
  echo "deps.sh: node $(node --version) is older than $node_min; tests/interop not installed" >&2
else
  # npm ci always starts from scratch: skip it when node_modules was installed from this lockfile
  stamp="$interop/node_modules/.deps-sh-lock.sha256"
  want="$(sha256sum "$interop/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "deps.sh: tests/interop npm packages already installed"
  else
    echo "deps.sh: npm ci --prefix tests/interop"
    npm ci --prefix "$interop" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" > "$stamp"
  fi
fi
