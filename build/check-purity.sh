#!/usr/bin/env bash
# Proves the core is pure: no file in src/ or include/ may include an httpd header
# (httpd.h, http_*.h, ap_*.h, mod_*.h, util_*.h). Exit 1 and name the offenders otherwise.
set -euo pipefail
top="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](httpd\.h|http_[^>"]*|ap_[^>"]*|mod_[^>"]*|util_[^>"]*|scoreboard\.h|mpm_common\.h)[>"]' \
  "$top"/src/*.c "$top"/include/*.h || true)
if [ -n "$bad" ]; then
  echo "check-purity: httpd headers included by the core:" >&2
  echo "$bad" >&2
  exit 1
fi
n=$(ls "$top"/src/*.c "$top"/include/*.h | wc -l)
echo "check-purity: $n core files, no httpd header included"
