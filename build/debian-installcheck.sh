#!/usr/bin/env bash
# build/debian-installcheck.sh [PACKAGE.deb] - the installed-package test of the Debian package
# ("make installcheck-deb" runs it from the build tree after "make deb").
#
#  1. installs the .deb with apt-get (dependencies resolved; postinst enables the module through
#     apache2-maintscript-helper) and checks the files it put in place;
#  2. a2enmod claims, then apache2ctl -t: the shipped claims.conf is all commented out, so the
#     system configuration must stay valid without any issuer;
#  3. apache2ctl -t with a sample <ClaimsIssuer> (a freshly generated P-256 key) and a protected
#     <Location>, and the same with a missing key file, which must be refused;
#  4. the integration suite against /usr/lib/apache2/modules/mod_claims.so ("make installcheck"
#     when run from a configured build tree, tests/integration/run.sh otherwise);
#  5. apt-get purge, then checks that nothing is left behind and that the configuration is valid.
#
# Needs root. The system's apache2 service may be running: the package's maintainer scripts
# restart it as they would on any machine, and the configuration is checked valid before and
# after. On failure the package is still purged. A libapache2-mod-claims installed beforehand is
# replaced by this build and purged at the end.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

pkg=libapache2-mod-claims
modso=/usr/lib/apache2/modules/mod_claims.so
here="$(cd "$(dirname "$0")" && pwd)"
srcdir="$(cd "$here/.." && pwd)"
builddir="$(pwd)"

step() { printf '==== installcheck-deb: %s\n' "$*"; }
fail() { printf 'installcheck-deb: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (installs and purges $pkg)"
deb="${1:-}"
if [ -z "$deb" ]; then
  deb="$(ls -t "$builddir"/${pkg}_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1 || true)"
  [ -n "$deb" ] || fail "no ${pkg}_*.deb in $builddir: run \"make deb\" first, or pass the .deb"
fi
[ -f "$deb" ] || fail "$deb: no such file"
deb="$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"   # apt-get wants a path, not a name

tmp="$(mktemp -d /tmp/claims-installcheck.XXXXXX)"
installed=0
cleanup() {
  local rc=$?
  if [ "$installed" -eq 1 ]; then
    echo "installcheck-deb: purging $pkg after the failure" >&2
    apt-get purge -y -q -o Dpkg::Use-Pty=0 "$pkg" >&2 || dpkg --purge "$pkg" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

step "system configuration before the install"
apache2ctl -t || fail "the system's apache2 configuration is already invalid; not touching it"
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
  echo "installcheck-deb: $pkg $(dpkg-query -W -f='${Version}' "$pkg") is installed; replacing it"
fi

step "apt-get install $deb"
installed=1
apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$deb"
dpkg-query -W "$pkg"
for f in "$modso" /etc/apache2/mods-available/claims.load /etc/apache2/mods-available/claims.conf \
         /usr/share/doc/$pkg/copyright; do
  [ -e "$f" ] || fail "$f not installed"
done
[ -L /etc/apache2/mods-enabled/claims.load ] || fail "postinst did not enable the module"
[ ! -e "${modso%.so}.la" ] || fail "${modso%.so}.la installed"

step "a2enmod claims"
a2enmod claims
apache2ctl -t || fail "the configuration is invalid with the module enabled and no issuer"
apache2ctl -M 2>/dev/null | grep -q 'claims_module' || fail "claims_module not loaded"

step "configtest with a sample issuer"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/issuer.key" 2>/dev/null
openssl pkey -in "$tmp/issuer.key" -pubout -out "$tmp/issuer.pem"
chmod 0755 "$tmp"
sample() {   # sample KEYFILE > conf
  cat <<EOF
<ClaimsIssuer https://idp.installcheck.example/realms/main>
    ClaimsKeyFile $1 kid=installcheck alg=ES256
    ClaimsAudience https://api.installcheck.example
</ClaimsIssuer>
<Location /installcheck-api/>
    AuthType claims
    AuthName "installcheck"
    Require scope orders:read
</Location>
EOF
}
sample "$tmp/issuer.pem" > "$tmp/sample.conf"
apache2ctl -t -c "Include $tmp/sample.conf" || fail "configtest with a sample issuer"
sample "$tmp/missing.pem" > "$tmp/broken.conf"
if apache2ctl -t -c "Include $tmp/broken.conf" >"$tmp/broken.out" 2>&1; then
  cat "$tmp/broken.out"; fail "configtest accepted an issuer whose key file is missing"
fi
grep -q 'missing.pem' "$tmp/broken.out" || { cat "$tmp/broken.out"; fail "no error naming the key file"; }
echo "installcheck-deb: a missing key file is refused: $(grep -m1 'missing.pem' "$tmp/broken.out")"

step "integration suite against $modso"
if [ -f "$builddir/Makefile" ] && grep -q '^installcheck-local:' "$builddir/Makefile"; then
  make -C "$builddir" installcheck DESTDIR= HTTPD_MODDIR="$(dirname "$modso")"
else
  CLAIMS_MODULE="$modso" "$srcdir/tests/integration/run.sh"
fi

step "apt-get purge $pkg"
apt-get purge -y -q -o Dpkg::Use-Pty=0 "$pkg"
installed=0
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -qv 'not-installed'; then
  fail "$pkg still known to dpkg: $(dpkg-query -W -f='${Status}' "$pkg")"
fi
left="$(ls -d /etc/apache2/mods-*/claims.* "$modso" /usr/share/doc/$pkg \
           /var/lib/apache2/module/*/claims 2>/dev/null || true)"
[ -z "$left" ] || fail "left behind after purge: $left"
apache2ctl -t || fail "the configuration is invalid after the purge"
step "passed"
