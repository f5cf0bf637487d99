/*
 * test_b64url.c - strict base64url (RFC 7515 section 2; SECURITY.md CL-36).
 */
#include "test_util.h"

#include "claims_b64url.h"

#include <string.h>

/* Known answers from RFC 4648 section 10, in the URL-safe alphabet without padding. */
static const struct {
    const char *plain;
    const char *encoded;
} known[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(test_known_answers_encode_without_padding)
{
    const char *out = claims_b64url_encode(tu_p, (const unsigned char *)known[_i].plain, strlen(known[_i].plain));
    ck_assert_str_eq(out, known[_i].encoded);
}
END_TEST

START_TEST(test_known_answers_decode_to_the_plain_bytes)
{
    unsigned char *out = NULL;
    apr_size_t len = 99;
    ck_assert_int_eq(claims_b64url_decode(tu_p, known[_i].encoded, strlen(known[_i].encoded), &out, &len), 0);
    ck_assert_uint_eq(len, strlen(known[_i].plain));
    ck_assert_mem_eq(out, known[_i].plain, len);
    ck_assert_int_eq(out[len], '\0');
}
END_TEST

START_TEST(test_every_byte_value_and_length_round_trips)
{
    unsigned char buf[300];
    for (int i = 0; i < (int)sizeof(buf); i++) {
        buf[i] = (unsigned char)(i * 7 + 3);
    }
    for (apr_size_t n = 0; n <= sizeof(buf); n++) {
        char *enc = claims_b64url_encode(tu_p, buf, n);
        unsigned char *dec;
        apr_size_t dlen;
        ck_assert_str_eq(enc, tu_b64n(tu_p, buf, n));  /* agrees with an independent encoder */
        ck_assert_int_eq(claims_b64url_decode(tu_p, enc, strlen(enc), &dec, &dlen), 0);
        ck_assert_uint_eq(dlen, n);
        ck_assert_mem_eq(dec, buf, n);
    }
}
END_TEST

START_TEST(test_url_safe_alphabet_characters_decode)
{
    /* 0xfb 0xff 0xbf encodes to "-_-_" in base64url ("+/+/" in standard base64) */
    unsigned char *out;
    apr_size_t len;
    ck_assert_int_eq(claims_b64url_decode(tu_p, "-_-_", 4, &out, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(out[0], 0xfb);
    ck_assert_int_eq(out[1], 0xff);
    ck_assert_int_eq(out[2], 0xbf);
}
END_TEST

START_TEST(test_empty_input_decodes_to_empty_output)
{
    unsigned char *out = NULL;
    apr_size_t len = 7;
    ck_assert_int_eq(claims_b64url_decode(tu_p, "", 0, &out, &len), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(out);
}
END_TEST

/* Everything outside [A-Za-z0-9_-], padding, bad lengths and non-zero unused bits. */
static const struct {
    const char *in;
    const char *why;
} refused[] = {
    {"Zg==", "padding"},
    {"Zg=", "single padding"},
    {"Zm9v=", "padding after a full quantum"},
    {"Zm8=", "padding on a 2-byte tail"},
    {"a+b/", "standard alphabet + and /"},
    {"ab+c", "standard alphabet +"},
    {"ab/c", "standard alphabet /"},
    {"Zm 9v", "embedded space"},
    {"Zm9v ", "trailing space"},
    {" Zm9v", "leading space"},
    {"Zm\n9v", "embedded newline"},
    {"Zm\t9v", "embedded tab"},
    {"Zm9v\r", "trailing carriage return"},
    {"Zm#9", "hash"},
    {"Zm?9", "question mark"},
    {"Zm.9", "dot"},
    {"Zm%9", "percent"},
    {"Zm\\9", "backslash"},
    {"Z", "length 1 (mod 4)"},
    {"Zm9vY", "length 5 (mod 4 == 1)"},
    {"Zm9vYmFyZ", "length 9 (mod 4 == 1)"},
    {"Zh", "non-canonical: unused bits set (Zg is canonical)"},
    {"Zm9", "non-canonical: unused bits set (Zm8 is canonical)"},
    {"Zm9vYh", "non-canonical 2-char tail"},
    {"Zm9vYmF", "non-canonical 3-char tail"},
    {"AB", "non-canonical: 'B' leaves a set bit"},
    {"\xc3\xa9xx", "non-ASCII byte"},
};

START_TEST(test_non_strict_input_is_refused)
{
    unsigned char *out;
    apr_size_t len;
    ck_assert_msg(claims_b64url_decode(tu_p, refused[_i].in, strlen(refused[_i].in), &out, &len) == -1,
                  "accepted (%s)", refused[_i].why);
}
END_TEST

START_TEST(test_nul_byte_inside_the_length_is_refused)
{
    unsigned char out[8];
    apr_size_t len;
    ck_assert_int_eq(claims_b64url_decode_to("Zm\0v", 4, out, &len), -1);
}
END_TEST

START_TEST(test_only_len_bytes_are_read)
{
    /* "Zm9v" followed by garbage that is outside the given length */
    unsigned char out[8];
    apr_size_t len = 0;
    ck_assert_int_eq(claims_b64url_decode_to("Zm9v!!!!", 4, out, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(out, "foo", 3);
}
END_TEST

START_TEST(test_decoded_max_bounds_every_length)
{
    for (apr_size_t len = 0; len < 64; len++) {
        if (len % 4 == 1) {
            continue;
        }
        ck_assert_uint_ge(CLAIMS_B64URL_DECODED_MAX(len), len * 3 / 4);
    }
}
END_TEST

Suite *b64url_suite(void)
{
    Suite *s = suite_create("b64url");
    TCase *tc = tu_tcase("strict base64url", 0);
    tcase_add_loop_test(tc, test_known_answers_encode_without_padding, 0, TU_COUNT(known));
    tcase_add_loop_test(tc, test_known_answers_decode_to_the_plain_bytes, 0, TU_COUNT(known));
    tcase_add_test(tc, test_every_byte_value_and_length_round_trips);
    tcase_add_test(tc, test_url_safe_alphabet_characters_decode);
    tcase_add_test(tc, test_empty_input_decodes_to_empty_output);
    tcase_add_loop_test(tc, test_non_strict_input_is_refused, 0, TU_COUNT(refused));
    tcase_add_test(tc, test_nul_byte_inside_the_length_is_refused);
    tcase_add_test(tc, test_only_len_bytes_are_read);
    tcase_add_test(tc, test_decoded_max_bounds_every_length);
    suite_add_tcase(s, tc);
    return s;
}
