#!/usr/bin/env bash
# Installs every build and test dependency of mod_claims on Debian 12 (bookworm) with apt-get.
# Idempotent; needs root (or sudo).
#   build/deps.sh            what `make`, `make check` and `make demo` need
#   build/deps.sh --ci       also the fuzzing, packaging and benchmark tools (.ci/run)
#   --no-update              skip `apt-get update`
set -euo pipefail

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
  libjansson-dev libssl-dev libcurl4-openssl-dev
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

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps.sh: all ${#PKGS[@]} packages already installed"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$update" -eq 1 ]; then
  $SUDO apt-get update -qq
fi
echo "deps.sh: installing ${missing[*]}"
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
