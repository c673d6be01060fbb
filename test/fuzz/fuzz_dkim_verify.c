/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the DKIM-Signature parser of analyze/dkim_verify.c
 * (no DNS, no hashing).  Besides memory errors it checks what the parser
 * promises: the reason is printable, the b= value and the h= names lie
 * inside the input, d= and s= are lower-case DNS text, bh= has the length
 * of the hash, and limits hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "pb_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 'A' && c <= 'Z')
            abort(); /* lower-cased */
        if (c <= 0x20 || c >= 0x7f)
            abort(); /* no space, control or 8-bit byte */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct dkim_verify_sig s;
    size_t i;

    if (dkim_verify_sig_parse(p, size, &s) == -1) {
        if (s.why[0] == '\0' || !pb_is_printable(s.why, strlen(s.why)))
            abort();
        if (s.reason == DKIM_VERIFY_R_OK)
            abort();
        dkim_verify_sig_release(&s);
        return 0;
    }
    if (s.tags == NULL || s.tag_b == NULL || s.tag_bh == NULL ||
        s.tag_d == NULL || s.tag_s == NULL || s.tag_h == NULL)
        abort();
    if (s.b_start > s.b_end || s.b_end > size || s.b_start == 0 ||
        p[s.b_start - 1] != '=' || (s.b_end < size && p[s.b_end] != ';'))
        abort();
    if (memchr(p + s.b_start, ';', s.b_end - s.b_start) != NULL)
        abort();
    if (s.nheaders == 0 || s.nheaders > DKIM_VERIFY_MAX_HEADERS ||
        s.nfrom == 0 || s.nfrom > s.nheaders)
        abort();
    for (i = 0; i < s.nheaders; i++) {
        const char *h = s.headers[i].p;

        if (s.headers[i].len == 0 || h < s.tag_h->value ||
            h + s.headers[i].len > s.tag_h->value + s.tag_h->len ||
            memchr(h, ':', s.headers[i].len) != NULL)
            abort();
    }
    check_name(s.domain);
    check_name(s.selector);
    if (strchr(s.domain, '.') == NULL)
        abort(); /* two labels at least */
    if (s.bh_len != (s.alg == DKIM_VERIFY_ALG_RSA_SHA1 ? 20u : 32u))
        abort();
    if (s.b_len == 0 || s.b_len > DKIM_VERIFY_MAX_B)
        abort();
    if (s.alg == DKIM_VERIFY_ALG_UNKNOWN)
        abort();
    if (s.expiry >= 0 && s.timestamp >= 0 && s.expiry <= s.timestamp)
        abort();
    dkim_verify_sig_release(&s);
    return 0;
}
