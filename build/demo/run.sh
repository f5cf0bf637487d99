#!/usr/bin/env bash
# The demo: a real apache2 on 127.0.0.1 with mod_claims from this build tree in front of a
# CGI "orders API" that echoes who called and with which claims, a demo issuer key set, and
# ready-to-paste curl lines with freshly minted tokens.
#   build/demo/run.sh [start]   start (or restart) the demo server
#   build/demo/run.sh stop      stop it
# Environment: DEMO_PORT (default 8088), DEMO_DIR (default /tmp/mod_claims-demo).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
build="${CLAIMS_BUILD_DIR:-$top}"
port="${DEMO_PORT:-8088}"
dir="${DEMO_DIR:-/tmp/mod_claims-demo}"
httpd="$(command -v apache2 || echo /usr/sbin/apache2)"
py=/usr/bin/python3
mods=/usr/lib/apache2/modules

stop() {
  if [ -f "$dir/run/httpd.pid" ]; then
    kill "$(cat "$dir/run/httpd.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$dir/run/httpd.pid" ] || break; sleep 0.1; done
    echo "demo stopped"
  fi
}

if [ "${1:-start}" = "stop" ]; then stop; exit 0; fi
[ -f "$build/.libs/mod_claims.so" ] || { echo "build the module first: ./configure && make" >&2; exit 1; }
stop >/dev/null
mkdir -p "$dir"/{keys,logs,run,cgi-bin,htdocs}
chmod 755 "$dir" "$dir"/*

# The demo issuer's key pair (the IdP side keeps the private key; mod_claims gets the JWK Set).
if [ ! -f "$dir/keys/demo-issuer.private.jwk" ]; then
  "$py" - "$dir/keys" <<'PY'
import json, sys
from jwcrypto import jwk
k = jwk.JWK.generate(kty="EC", crv="P-256", kid="demo-2026", alg="ES256", use="sig")
d = sys.argv[1]
open(d + "/demo-issuer.private.jwk", "w").write(k.export_private())
open(d + "/demo-issuer.jwks.json", "w").write(json.dumps({"keys": [json.loads(k.export_public())]}, indent=1))
PY
fi
chmod 600 "$dir/keys/demo-issuer.private.jwk"
chmod 644 "$dir/keys/demo-issuer.jwks.json"
install -m 755 "$here/orders.py" "$dir/cgi-bin/orders.py"

user_group=""
if [ "$(id -u)" = 0 ]; then user_group=$'User nobody\nGroup nogroup'; fi
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@MODULE@|$build/.libs/mod_claims.so|g" \
    -e "s|@MODS@|$mods|g" "$top/conf/examples/demo.conf" > "$dir/httpd.conf"
printf '%s\n' "$user_group" >> "$dir/httpd.conf"

"$httpd" -t -f "$dir/httpd.conf"
"$httpd" -f "$dir/httpd.conf" -k start
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

mint() { "$py" "$here/mint.py" "$dir/keys" "$1"; }
url="http://127.0.0.1:$port/api/orders"
cat <<EOT

mod_claims demo running on http://127.0.0.1:$port  (config: $dir/httpd.conf, log: $dir/logs/error.log)
Stop it with: build/demo/run.sh stop

# 200: a valid token; the API sees REMOTE_USER and the claims
curl -i $url -H "Authorization: Bearer $(mint valid)"

# 401 without a token (WWW-Authenticate: Bearer realm="orders-api")
curl -i $url

# 401 invalid_token: expired
curl -i $url -H "Authorization: Bearer $(mint expired)"

# 401 invalid_token: minted for another audience
curl -i $url -H "Authorization: Bearer $(mint wrong-audience)"

# 403 insufficient_scope: valid token without orders:read
curl -i $url -H "Authorization: Bearer $(mint no-scope)"

# 400 invalid_request: malformed credentials
curl -i $url -H "Authorization: Bearer not a token"
EOT
