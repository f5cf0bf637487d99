/*
 * claims_b64url.c - strict base64url; see claims_b64url.h for what "strict" means.
 * Neither apr_base64_decode() nor EVP_DecodeBlock() is strict enough (SECURITY.md, traps).
 */
#include "claims_b64url.h"

static const signed char dec_table[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
    ['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
    ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
    ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
    ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33,
    ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
    ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
    ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59,
    ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

static const char enc_table[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one character, or -1 (the table stores value + 1 so that 0 means invalid). */
static int sextet(char c)
{
    return dec_table[(unsigned char)c] - 1;
}

int claims_b64url_decode_to(const char *in, apr_size_t len, unsigned char *out, apr_size_t *outlen)
{
    apr_size_t i = 0, o = 0;
    if (len % 4 == 1) {
        return -1;
    }
    for (; i + 4 <= len; i += 4) {
        int a = sextet(in[i]), b = sextet(in[i + 1]), c = sextet(in[i + 2]), d = sextet(in[i + 3]);
        if ((a | b | c | d) < 0) {
            return -1;
        }
        unsigned long v = ((unsigned long)a << 18) | ((unsigned long)b << 12) | ((unsigned long)c << 6) | (unsigned long)d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (len - i == 2) {
        int a = sextet(in[i]), b = sextet(in[i + 1]);
        if ((a | b) < 0 || (b & 0x0f) != 0) {
            return -1;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
    }
    else if (len - i == 3) {
        int a = sextet(in[i]), b = sextet(in[i + 1]), c = sextet(in[i + 2]);
        if ((a | b | c) < 0 || (c & 0x03) != 0) {
            return -1;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
        out[o++] = (unsigned char)(((b & 0x0f) << 4) | (c >> 2));
    }
    *outlen = o;
    return 0;
}

int claims_b64url_decode(apr_pool_t *p, const char *in, apr_size_t len,
                         unsigned char **out, apr_size_t *outlen)
{
    unsigned char *buf = apr_palloc(p, CLAIMS_B64URL_DECODED_MAX(len) + 1);
    if (claims_b64url_decode_to(in, len, buf, outlen) != 0) {
        return -1;
    }
    buf[*outlen] = '\0';
    *out = buf;
    return 0;
}

char *claims_b64url_encode(apr_pool_t *p, const unsigned char *in, apr_size_t len)
{
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    apr_size_t i = 0, o = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
        out[o++] = enc_table[v & 63];
    }
    if (len - i == 1) {
        out[o++] = enc_table[in[i] >> 2];
        out[o++] = enc_table[(in[i] & 3) << 4];
    }
    else if (len - i == 2) {
        out[o++] = enc_table[in[i] >> 2];
        out[o++] = enc_table[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        out[o++] = enc_table[(in[i + 1] & 15) << 2];
    }
    out[o] = '\0';
    return out;
}
