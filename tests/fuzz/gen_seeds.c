/*
 * gen_seeds.c - writes the seed corpora of the fuzz harnesses (run through make-seeds.sh).
 *
 * Everything is made here, from the harnesses' deterministic test keys: valid tokens of every
 * algorithm the token harness trusts, a few hostile tokens, key files in every supported format,
 * metadata documents, Cache-Control and Authorization values, claim paths and Require values.
 * No third-party vectors are copied. ECDSA and RSA-PSS signatures are randomised, so those seeds
 * change when regenerated; they stay valid either way.
 *
 * Usage: gen_seeds <corpus-dir>   (creates <corpus-dir>/{jws,jwk,discovery,bearer,claims,introspect,dpop}/)
 */
#include "claims.h"
#include "claims_alg.h"
#include "fuzz_common.h"

#include <apr_strings.h>
#include <openssl/evp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *root;
static apr_pool_t *pool;
static int written;

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char *d = apr_pstrcat(pool, root, "/", dir, NULL);
    char *path = apr_pstrcat(pool, d, "/", name, NULL);
    FILE *f;
    if (mkdir(d, 0755) != 0 && errno != EEXIST) {
        perror(d);
        exit(1);
    }
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    written++;
}

static void puts_(const char *dir, const char *name, const char *text)
{
    put(dir, name, text, strlen(text));
}

static const char *claims_for(const char *iss, const char *extra)
{
    return apr_psprintf(pool, "{\"iss\":\"%s\",\"sub\":\"alice\",\"aud\":\"" FZ_AUDIENCE "\","
                        "\"exp\":4102444800,\"iat\":1700000000%s%s}", iss, extra ? "," : "", extra ? extra : "");
}

static void tokens(const fz_keys_t *k)
{
    const char *pub = claims_for(FZ_ISS_PUBLIC, NULL);
    const char *hm = claims_for(FZ_ISS_HMAC, NULL);
    const char *unsigned_tok;

    /* valid for the harness's issuers */
    puts_("jws", "rs256-at-jwt", fz_token(pool, k, CLAIMS_ALG_RS256,
          "{\"alg\":\"RS256\",\"kid\":\"rsa-RS256\",\"typ\":\"at+jwt\"}",
          "{\"iss\":\"" FZ_ISS_PUBLIC "\",\"sub\":\"alice\",\"aud\":[\"other\",\"https://rs.example\"],"
          "\"exp\":4102444800,\"iat\":1700000000,\"nbf\":1700000000,\"client_id\":\"app\",\"jti\":\"j-1\","
          "\"scope\":\"read write\"}"));
    puts_("jws", "typ-application", fz_token(pool, k, CLAIMS_ALG_HS384,
          "{\"alg\":\"HS384\",\"kid\":\"hs384\",\"typ\":\"application/AT+JWT\"}",
          claims_for(FZ_ISS_HMAC, "\"nbf\":1800000000,\"client_id\":\"c\",\"jti\":null")));
    puts_("jws", "header-types", fz_token(pool, k, CLAIMS_ALG_HS256,
          "{\"alg\":\"HS256\",\"kid\":[\"hs256\"],\"typ\":1,\"cty\":{}}", hm));
    puts_("jws", "ps256", fz_token(pool, k, CLAIMS_ALG_PS256, "{\"alg\":\"PS256\",\"kid\":\"rsa-PS256\"}", pub));
    puts_("jws", "rs512", fz_token(pool, k, CLAIMS_ALG_RS512, "{\"kid\":\"rsa-RS512\",\"alg\":\"RS512\"}", pub));
    puts_("jws", "es256", fz_token(pool, k, CLAIMS_ALG_ES256, "{\"alg\":\"ES256\",\"kid\":\"ec-p256\"}", pub));
    puts_("jws", "es256-no-kid", fz_token(pool, k, CLAIMS_ALG_ES256, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", pub));
    puts_("jws", "es384", fz_token(pool, k, CLAIMS_ALG_ES384, "{\"alg\":\"ES384\",\"kid\":\"ec-p384\"}", pub));
    puts_("jws", "es512", fz_token(pool, k, CLAIMS_ALG_ES512, "{\"alg\":\"ES512\",\"kid\":\"ec-p521\"}", pub));
    puts_("jws", "eddsa", fz_token(pool, k, CLAIMS_ALG_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"ed25519\"}", pub));
    puts_("jws", "ed448", fz_token(pool, k, CLAIMS_ALG_ED448, "{\"alg\":\"Ed448\",\"kid\":\"ed448\"}", pub));
    puts_("jws", "hs256", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"hs256\"}", hm));
    puts_("jws", "hs512-no-kid", fz_token(pool, k, CLAIMS_ALG_HS512, "{\"alg\":\"HS512\"}",
          claims_for(FZ_ISS_HMAC, "\"scp\":[\"a\",\"b\"],\"realm_access\":{\"roles\":[\"admin\"]}")));
    puts_("jws", "restricted-eddsa", fz_token(pool, k, CLAIMS_ALG_EDDSA, "{\"alg\":\"EdDSA\"}",
          claims_for(FZ_ISS_RESTRICTED, NULL)));
    puts_("jws", "restricted-rs256", fz_token(pool, k, CLAIMS_ALG_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa-RS256\"}",
          claims_for(FZ_ISS_RESTRICTED, NULL)));
    /* refused for one reason each (signed, so only that reason applies) */
    puts_("jws", "alg-escaped", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"\\u0048S256\",\"kid\":\"hs256\"}", hm));
    puts_("jws", "crit", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", hm));
    puts_("jws", "embedded-jwk", fz_token(pool, k, CLAIMS_ALG_HS256, apr_psprintf(pool,
          "{\"alg\":\"HS256\",\"jwk\":%s,\"jku\":\"https://evil.example/k\"}", fz_jwk(pool, k->p256, NULL, NULL, NULL)), hm));
    puts_("jws", "duplicate-alg", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", hm));
    puts_("jws", "cty-jwt", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\",\"cty\":\"JWT\",\"b64\":false}", hm));
    puts_("jws", "time-claims", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\"}",
          "{\"iss\":\"" FZ_ISS_HMAC "\",\"sub\":\"a\",\"exp\":1e300,\"nbf\":-1,\"iat\":\"1700000000\"}"));
    puts_("jws", "aud-variants", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\"}",
          "{\"iss\":\"" FZ_ISS_HMAC "\",\"sub\":\"\",\"aud\":[\"api://fuzz\",\"\",7],\"exp\":4102444800.5}"));
    puts_("jws", "duplicate-claim", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\"}",
          "{\"iss\":\"" FZ_ISS_HMAC "\",\"sub\":\"a\",\"\\u0073ub\":\"b\"}"));
    {
        /* 60 levels of nesting in the claims */
        char *deep = apr_pstrdup(pool, "1");
        for (int i = 0; i < 60; i++) {
            deep = apr_pstrcat(pool, i % 2 ? "[" : "{\"a\":", deep, i % 2 ? "]" : "}", NULL);
        }
        puts_("jws", "deep-claims", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\"}",
              claims_for(FZ_ISS_HMAC, apr_pstrcat(pool, "\"deep\":", deep, NULL))));
    }
    unsigned_tok = apr_pstrcat(pool, fz_b64url(pool, (const unsigned char *)"{\"alg\":\"none\"}", 14), ".",
                               fz_b64url(pool, (const unsigned char *)pub, strlen(pub)), ".AAAA", NULL);
    puts_("jws", "alg-none", unsigned_tok);
    /* structured inputs (see fuzz_jws.c): header and claims as JSON, re-signed by the harness */
    puts_("jws", "json-hs256", apr_pstrcat(pool, "{\"alg\":\"HS256\",\"kid\":\"hs256\",\"typ\":\"at+jwt\"}\n",
          claims_for(FZ_ISS_HMAC, "\"client_id\":\"c\",\"jti\":\"1\",\"scope\":\"a b\""), NULL));
    puts_("jws", "json-es256-9068", apr_pstrcat(pool, "{\"alg\":\"ES256\",\"typ\":\"application/at+jwt\"}\n",
          "{\"iss\":\"" FZ_ISS_PUBLIC "\",\"sub\":\"s\",\"aud\":[\"https://rs.example\"],\"exp\":1750000030,"
          "\"nbf\":1750000050.5,\"iat\":1749999999,\"client_id\":\"c\",\"jti\":\"j\"}", NULL));
    puts_("jws", "json-eddsa-restricted", apr_pstrcat(pool, "{\"alg\":\"EdDSA\",\"x5u\":\"https://evil.example\"}\n",
          claims_for(FZ_ISS_RESTRICTED, NULL), "\nnot a signature", NULL));
    puts_("jws", "json-ed448-no-exp", "{\"alg\":\"Ed448\",\"kid\":\"ed448\"}\n"
          "{\"iss\":\"" FZ_ISS_PUBLIC "\",\"aud\":\"" FZ_AUDIENCE "\",\"exp\":null}");
    puts_("jws", "five-segments", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn");
    puts_("jws", "padded", "eyJhbGciOiJIUzI1NiJ9.e30=.AAAA");
}

static void keys(const fz_keys_t *k)
{
    size_t len;
    unsigned char *bin;
    char *x5c;

    puts_("jwk", "jwks-mixed.json", apr_psprintf(pool,
          "{\"keys\":[%s,%s,%s,%s,{\"kty\":\"foo\",\"kid\":\"unknown-type\"}]}",
          fz_jwk(pool, k->rsa, "rsa-sig", "RS256", "\"use\":\"sig\""),
          fz_jwk(pool, k->p256, "ec-p256", "ES256", "\"key_ops\":[\"verify\"]"),
          fz_jwk(pool, k->ed25519, "ed25519", "EdDSA", NULL),
          fz_jwk(pool, k->rsa, "rsa-enc", "RSA-OAEP", "\"use\":\"enc\"")));
    puts_("jwk", "rsa.jwk", fz_jwk(pool, k->rsa, "rsa-1", "PS384", NULL));
    puts_("jwk", "rsa-no-alg.jwk", fz_jwk(pool, k->rsa, NULL, NULL, NULL));
    puts_("jwk", "p384.jwk", fz_jwk(pool, k->p384, "ec-p384", "ES384", "\"use\":\"sig\""));
    puts_("jwk", "p521.jwk", fz_jwk(pool, k->p521, NULL, NULL, NULL));
    puts_("jwk", "ed448.jwk", fz_jwk(pool, k->ed448, "ed448", "Ed448", NULL));
    puts_("jwk", "oct-hs256.jwk", fz_jwk_oct(pool, k->hs256, sizeof(k->hs256), "hs256", "HS256"));
    puts_("jwk", "jwks-oct.json", apr_psprintf(pool, "{\"keys\":[%s,%s]}",
          fz_jwk_oct(pool, k->hs384, sizeof(k->hs384), "a", "HS384"),
          fz_jwk_oct(pool, k->hs512, sizeof(k->hs512), "b", NULL)));
    bin = fz_cert(pool, k, k->rsa, 0, &len);
    {
        /* x5c is standard base64 (with padding), not base64url */
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *s = apr_palloc(pool, (len + 2) / 3 * 4 + 1), *o = s;
        for (size_t i = 0; i < len; i += 3) {
            unsigned long v = (unsigned long)bin[i] << 16 | (i + 1 < len ? (unsigned long)bin[i + 1] << 8 : 0)
                              | (i + 2 < len ? bin[i + 2] : 0);
            *o++ = b64[(v >> 18) & 63];
            *o++ = b64[(v >> 12) & 63];
            *o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
            *o++ = i + 2 < len ? b64[v & 63] : '=';
        }
        *o = '\0';
        x5c = apr_psprintf(pool, "\"x5c\":[\"%s\"]", s);
    }
    puts_("jwk", "rsa-x5c.jwk", fz_jwk(pool, k->rsa, "rsa-x5c", "RS256", x5c));
    /* CL-62: members of the wrong JSON type */
    puts_("jwk", "wrong-types.json", apr_psprintf(pool, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":7,\"n\":1,\"e\":\"AQAB\"},"
          "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":[\"ES256\"],\"use\":1,\"key_ops\":\"verify\",\"x\":null,\"y\":{}},"
          "%s]}", fz_jwk(pool, k->ed25519, "ok", NULL, "\"x5c\":{}")));
    /* CL-28: one set, symmetric and public keys */
    puts_("jwk", "jwks-mixed-symmetry.json", apr_psprintf(pool, "{\"keys\":[%s,%s]}",
          fz_jwk_oct(pool, k->hs256, sizeof(k->hs256), "s", "HS256"), fz_jwk(pool, k->p256, "p", NULL, NULL)));
    /* CL-21: a public key as an HMAC secret */
    {
        const char *pem = fz_pem_spki(pool, k->rsa);
        puts_("jwk", "oct-public-key.jwk", fz_jwk_oct(pool, (const unsigned char *)pem, strlen(pem), "pem", "HS256"));
    }
    puts_("jwk", "private.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    /* Regression (fixed in claims_keys.c): Ed25519 keys of small order verified forged
     * signatures (R = neutral point, S = 0); the non-canonical encoding of the same point */
    puts_("jwk", "ed25519-small-order.jwk",
          "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"kid\":\"neutral\"}");
    puts_("jwk", "ed25519-non-canonical.jwk",
          "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"7v_______________________________________38\",\"alg\":\"EdDSA\"}]}");
    puts_("jwk", "rsa-spki.pem", fz_pem_spki(pool, k->rsa));
    puts_("jwk", "rsa-pkcs1.pem", fz_pem_rsa_pkcs1(pool, k->rsa));
    puts_("jwk", "ed25519-spki.pem", fz_pem_spki(pool, k->ed25519));
    bin = fz_der_spki(pool, k->p256, &len);
    put("jwk", "p256-spki.der", bin, len);
    bin = fz_cert(pool, k, k->rsa, 1, &len);
    put("jwk", "rsa-cert.pem", bin, len);
    bin = fz_cert(pool, k, k->p384, 0, &len);
    put("jwk", "p384-cert.der", bin, len);
}

static void discovery(void)
{
    puts_("discovery", "openid-configuration.json",
          "{\"issuer\":\"" FZ_ISS_PUBLIC "\",\"jwks_uri\":\"https://issuer.example/.well-known/jwks.json\","
          "\"authorization_endpoint\":\"https://issuer.example/authorize\","
          "\"id_token_signing_alg_values_supported\":[\"RS256\",\"ES256\"]}");
    puts_("discovery", "loopback.json",
          "{\"issuer\":\"http://127.0.0.1:8080/realms/test\","
          "\"jwks_uri\":\"http://127.0.0.1:8080/realms/test/protocol/openid-connect/certs\"}");
    puts_("discovery", "issuer-mismatch.json",
          "{\"issuer\":\"https://issuer.example/\",\"jwks_uri\":\"https://issuer.example/jwks\"}");
    puts_("discovery", "jwks-uri-not-https.json",
          "{\"jwks_uri\":\"ftp://issuer.example/jwks\",\"issuer\":\"" FZ_ISS_PUBLIC "\",\"x\":[1,{}]}");
    puts_("discovery", "cache-control-max-age", "public, max-age=\"86400\", must-revalidate");
    puts_("discovery", "cache-control-no-store", "private,no-store");
    puts_("discovery", "cache-control-big", "s-maxage=60, max-age=99999999999");
}

static void bearer(const fz_keys_t *k)
{
    puts_("bearer", "valid", apr_pstrcat(pool, "Bearer ", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\"}",
                                                          claims_for(FZ_ISS_HMAC, NULL)), NULL));
    puts_("bearer", "lowercase-tabs", "\tbearer\t a-b_c.d~e+f/g==  ");
    puts_("bearer", "basic", "Basic dXNlcjpwYXNzd29yZA==");
    puts_("bearer", "two-tokens", "Bearer abc def");
    puts_("bearer", "empty", "Bearer");
    puts_("bearer", "bad-char", "Bearer ab=c{\"}");
    puts_("bearer", "b64url", "Zm9vYmFyLWJhel8");
    puts_("bearer", "b64url-noncanonical", "Zm9vYh");
}

static void claims(void)
{
    puts_("claims", "dotted", "realm_access.roles\nadmin\nread\n");
    puts_("claims", "pointer", "/groups/0\n\"admins\"\nwrite\n{\"groups\":[\"admins\"],\"scope\":\"write  read\"}");
    puts_("claims", "url-name", "https://example.com/roles\nx\nfiles.read\n");
    puts_("claims", "pointer-escapes", "/a~1b/c~0d\n1.0\nadmin:all\n");
    puts_("claims", "literal-true", "nested.a.b.c\ntrue\nopenid\n"
          "{\"nested\":{\"a\":{\"b\":{\"c\":true}}},\"Sub\":\"x\",\"sub\":\"y\",\"s-u-b\":[1,\"two\",null,{\"k\":[]}]}");
    puts_("claims", "null-user", "sub\nnull\n \n{\"sub\":\"a\\u0001\",\"scp\":\"x y\"}");
    puts_("claims", "number", "num\n1e0\nread write\n");
}

/* Introspection answers (fuzz_introspect.c): JSON answers as the unit tests read them, signed
 * JWT answers, and "#header\npayload" inputs the harness signs itself. */
static const char *envelope(const char *aud, const char *iat, const char *member)
{
    return apr_psprintf(pool, "{\"iss\":\"" FZ_ISS_PUBLIC "\",\"aud\":%s,\"iat\":%s,\"token_introspection\":%s}",
                        aud, iat, member);
}

static void introspect(const fz_keys_t *k)
{
    static const char ti[] = "{\"active\":true,\"iss\":\"" FZ_ISS_PUBLIC "\",\"sub\":\"alice\",\"scope\":\"read\","
                             "\"exp\":4102444800,\"token_type\":\"Bearer\"}";
    static const char hdr[] = "{\"alg\":\"ES256\",\"kid\":\"ec-p256\",\"typ\":\"token-introspection+jwt\"}";
    static const char *const json[][2] = {
        {"active", "{\"active\":true,\"iss\":\"" FZ_ISS_PUBLIC "\",\"sub\":\"alice\",\"aud\":[\"api\"],"
                   "\"exp\":4102444800,\"client_id\":\"app\",\"scope\":\"a b\"}"},
        {"active-no-iss", " {\"active\" : true, \"sub\":\"bob\"}\n"},
        {"inactive", "{\"active\":false}"},
        {"active-string", "{\"active\":\"true\"}"},
        {"active-number", "{\"active\":1,\"sub\":\"x\"}"},
        {"active-null", "{\"active\":null}"},
        {"no-active", "{\"sub\":\"alice\",\"exp\":4102444800}"},
        {"other-iss", "{\"active\":true,\"iss\":\"https://issuer.example/\"}"},
        {"refresh-token", "{\"active\":true,\"token_type\":\"Refresh_Token\"}"},
        {"duplicate-active", "{\"active\":false,\"active\":true}"},
        {"escaped-name", "{\"\\u0061ctive\":true,\"sub\":\"\\u00e9\"}"},
        {"nested", "{\"active\":true,\"x\":[[[[{\"y\":[[[]]]}]]]]}"},
    };
    for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
        puts_("introspect", apr_pstrcat(pool, "json-", json[i][0], NULL), json[i][1]);
    }
    puts_("introspect", "jwt-es256", fz_token(pool, k, CLAIMS_ALG_ES256, hdr, envelope("\"fuzz-client\"", "1750000000", ti)));
    puts_("introspect", "jwt-eddsa-newline", apr_pstrcat(pool, fz_token(pool, k, CLAIMS_ALG_EDDSA,
          "{\"alg\":\"EdDSA\",\"typ\":\"application/token-introspection+jwt\"}",
          envelope("[\"other\",\"fuzz-client\"]", "1750000060", "{\"active\":false}")), "\r\n", NULL));
    puts_("introspect", "jwt-rs256-inner-string", fz_token(pool, k, CLAIMS_ALG_RS256,
          "{\"alg\":\"RS256\",\"kid\":\"rsa-RS256\",\"typ\":\"token-introspection+jwt\"}",
          envelope("\"fuzz-client\"", "1749999640", "{\"active\":\"true\"}")));
    puts_("introspect", "jwt-wrong-typ", fz_token(pool, k, CLAIMS_ALG_ES256, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}",
          envelope("\"fuzz-client\"", "1750000000", ti)));
    puts_("introspect", "jwt-hs256", fz_token(pool, k, CLAIMS_ALG_HS256, "{\"alg\":\"HS256\"}",
          envelope("\"fuzz-client\"", "1750000000", ti)));
    puts_("introspect", "signed-envelope", apr_pstrcat(pool, "#", hdr, "\n",
          envelope("\"fuzz-client\"", "1750000000", ti), NULL));
    puts_("introspect", "signed-no-iat", "#{\"alg\":\"EdDSA\",\"typ\":\"token-introspection+jwt\"}\n"
          "{\"iss\":\"" FZ_ISS_PUBLIC "\",\"aud\":\"fuzz-client\",\"token_introspection\":{\"active\":true}}");
    puts_("introspect", "signed-old-iat", "#{\"alg\":\"RS256\",\"typ\":\"token-introspection+jwt\"}\n"
          "{\"iss\":\"" FZ_ISS_PUBLIC "\",\"aud\":\"fuzz-client\",\"iat\":1749999000,\"exp\":1750000100,"
          "\"token_introspection\":{\"active\":true,\"iss\":\"https://other.example\"}}");
    puts_("introspect", "alg-none", apr_pstrcat(pool, fz_b64url(pool, (const unsigned char *)"{\"alg\":\"none\"}", 14),
          ".", fz_b64url(pool, (const unsigned char *)ti, strlen(ti)), ".", NULL));
}

/* DPoP: "#header\npayload" templates (fuzz_dpop.c fills in $J, $K, $A, $N, $P and signs
 * them), complete proofs signed here, a token's cnf, and Client-Cert values. */
static void dpop_template(const char *name, const char *header, const char *payload)
{
    puts_("dpop", name, apr_pstrcat(pool, "#", header, "\n", payload, NULL));
}

static const char *dpop_claims(const char *extra)
{
    return apr_psprintf(pool, "{\"jti\":\"e1j3V_bKic8-LAEB\",\"htm\":\"" FZ_DPOP_HTM "\",\"htu\":\"" FZ_DPOP_HTU
                        "\",\"iat\":%.0f,\"ath\":\"$A\"%s%s}", FZ_NOW, extra ? "," : "", extra ? extra : "");
}

static void dpop(const fz_keys_t *k)
{
    static const char *const algs[] = {"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519", "Ed448"};
    unsigned char md[32], *der;
    unsigned int mdlen = 0;
    size_t der_len = 0;
    char *ath, *b64;

    for (int i = 0; i < 8; i++) {
        dpop_template(apr_psprintf(pool, "template-%s", algs[i]),
                      apr_psprintf(pool, "{\"typ\":\"dpop+jwt\",\"alg\":\"%s\",\"jwk\":$J}", algs[i]),
                      dpop_claims(i % 2 ? "\"nonce\":\"$N\"" : NULL));
    }
    dpop_template("nonce-previous", "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":$J}", dpop_claims("\"nonce\":\"$P\""));
    dpop_template("other-key", "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":$K}", dpop_claims(NULL));
    dpop_template("typ-application", "{\"typ\":\"application/DPoP+JWT\",\"alg\":\"EdDSA\",\"jwk\":$J,\"kid\":\"x\"}",
                  dpop_claims("\"cnf\":{\"jkt\":\"fuzz-jkt-presented-with-the-proof-000000000\"}"));
    dpop_template("htu-variant", "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":$J}",
                  "{\"jti\":\"a\",\"htm\":\"POST\",\"htu\":\"HTTPS://RS.Example:443/api/./x/../items?q#f\","
                  "\"iat\":1749999990.5,\"ath\":\"$A\"}");
    dpop_template("hs256", "{\"typ\":\"dpop+jwt\",\"alg\":\"HS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}",
                  dpop_claims(NULL));
    dpop_template("private-jwk", "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\","
                  "\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}}", dpop_claims(NULL));

    EVP_Digest(FZ_DPOP_TOKEN, strlen(FZ_DPOP_TOKEN), md, &mdlen, EVP_sha256(), NULL);
    ath = fz_b64url(pool, md, mdlen);
    for (int i = 0; i < 8; i += 3) {
        claims_alg_t a = claims_alg_from_name(algs[i], strlen(algs[i]));
        const char *hdr = apr_psprintf(pool, "{\"typ\":\"dpop+jwt\",\"alg\":\"%s\",\"jwk\":%s}", algs[i],
                                       fz_jwk(pool, fz_key_for(k, a), NULL, NULL, NULL));
        const char *pl = apr_psprintf(pool, "{\"jti\":\"p%d\",\"htm\":\"POST\",\"htu\":\"" FZ_DPOP_HTU "\","
                                      "\"iat\":%.0f,\"ath\":\"%s\"}", i, FZ_NOW, ath);
        puts_("dpop", apr_psprintf(pool, "proof-%s", algs[i]), fz_token(pool, k, a, hdr, pl));
    }
    puts_("dpop", "cnf-both", "{\"sub\":\"a\",\"cnf\":{\"jkt\":\"fuzz-jkt-presented-with-the-proof-000000000\","
          "\"x5t#S256\":\"fuzz-x5t-of-the-connection-certificate-0000\"}}");
    puts_("dpop", "htu-ipv6", "https://[2001:DB8::1]:8443/a/%7e/%2f?x");
    der = fz_cert(pool, k, k->p256, 0, &der_len);
    b64 = apr_palloc(pool, (der_len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)b64, der, (int)der_len);
    puts_("dpop", "client-cert", apr_pstrcat(pool, " :", b64, ": ", NULL));
}

int main(int argc, char **argv)
{
    const fz_keys_t *k;
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    pool = fz_global_pool();
    k = fz_keys();
    tokens(k);
    keys(k);
    discovery();
    bearer(k);
    claims();
    introspect(k);
    dpop(k);
    printf("gen_seeds: %d files written under %s\n", written, root);
    return 0;
}
