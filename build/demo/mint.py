#!/usr/bin/python3
"""Mints demo tokens with the demo issuer's private key: mint.py KEYDIR KIND -> compact JWS.
KIND: valid | expired | wrong-audience | no-scope | admin."""
import json
import sys
import time

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

ISSUER = "https://idp.demo.local/realms/demo"
AUDIENCE = "https://api.demo.local"


def main():
    keydir, kind = sys.argv[1], sys.argv[2]
    with open(keydir + "/demo-issuer.private.jwk") as f:
        key = jwk.JWK.from_json(f.read())
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "preferred_username": "alice",
              "scope": "orders:read orders:write", "groups": ["staff", "ops"],
              "realm_access": {"roles": ["user"]}, "tenant": "acme",
              "iat": now, "exp": now + 3600}
    if kind == "expired":
        claims.update(iat=now - 7200, exp=now - 3600)
    elif kind == "wrong-audience":
        claims["aud"] = "https://another-api.demo.local"
    elif kind == "no-scope":
        claims["scope"] = "profile"
    elif kind != "valid":
        sys.exit("unknown kind " + kind)
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(key, alg="ES256", protected=json_encode({"alg": "ES256", "kid": key.get("kid"),
                                                                  "typ": "at+jwt"}))
    print(token.serialize(compact=True))


if __name__ == "__main__":
    main()
