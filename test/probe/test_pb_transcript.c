/* SPDX-License-Identifier: MIT */
/*
 * Transcripts (probe/pb_transcript.c): entries in order with timestamps,
 * line reassembly, redaction of AUTH and SASL lines at capture (the secret
 * and its base64 forms never stored), the size cap with its truncation
 * entry, and the text rendering.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_limits.h"
#include "pb_transcript.h"

static const char secret[] = "s3cr3t-P4ss";
static char b64_plain[128], b64_user[64], b64_pass[64], b64_xoauth[256];

static void
b64(const void *in, size_t len, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = in;
    size_t i, o = 0;

    for (i = 0; i + 2 < len; i += 3) {
        out[o++] = a[s[i] >> 2];
        out[o++] = a[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        out[o++] = a[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
        out[o++] = a[s[i + 2] & 63];
    }
    if (len - i == 1) {
        out[o++] = a[s[i] >> 2];
        out[o++] = a[(s[i] & 3) << 4];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        out[o++] = a[s[i] >> 2];
        out[o++] = a[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        out[o++] = a[(s[i + 1] & 15) << 2];
        out[o++] = '=';
    }
    out[o] = '\0';
}

static void
setup(void)
{
    static const char plain[] = "\0user@example.com\0s3cr3t-P4ss";
    static const char xo[] =
        "user=user@example.com\001auth=Bearer s3cr3t-P4ss\001\001";

    b64(plain, sizeof(plain) - 1, b64_plain);
    b64("user@example.com", 16, b64_user);
    b64(secret, strlen(secret), b64_pass);
    b64(xo, sizeof(xo) - 1, b64_xoauth);
}

TestSuite(pb_transcript, .init = setup);

static bool
has(const void *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle), i;

    for (i = 0; i + k <= n; i++)
        if (memcmp((const char *)hay + i, needle, k) == 0)
            return true;
    return false;
}

/* No stored entry, nor the rendering, holds the secret in any form. */
static void
assert_no_secret(const struct pb_transcript *t)
{
    const char *forms[] = {secret, b64_plain, b64_pass, b64_xoauth,
                           "czNjcjN0LVA0c3M"};
    struct pb_buf out;
    size_t i, f;

    for (i = 0; i < pb_transcript_count(t); i++) {
        const struct pb_transcript_entry *e = pb_transcript_entry(t, i);

        for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
            cr_assert_not(has(e->p, e->len, forms[f]), "entry %zu: %s", i,
                          e->p);
    }
    pb_buf_init(&out, 1 << 20);
    cr_assert_eq(pb_transcript_render_text(t, &out), 0);
    for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
        cr_assert_not(has(out.p, out.len, forms[f]));
    pb_buf_release(&out);
}

static void
assert_entry(const struct pb_transcript *t, size_t i, enum pb_dir dir,
             const char *text)
{
    const struct pb_transcript_entry *e = pb_transcript_entry(t, i);

    cr_assert_not_null(e, "no entry %zu", i);
    cr_assert_eq(e->dir, dir, "entry %zu", i);
    cr_assert_eq(e->len, strlen(text), "entry %zu: %s", i, e->p);
    cr_assert_eq(memcmp(e->p, text, e->len), 0, "entry %zu: %s", i, e->p);
}

static void
say(struct pb_transcript *t, enum pb_dir dir, const char *s)
{
    pb_transcript_add(t, dir, s, strlen(s));
}

Test(pb_transcript, records_entries_in_order_with_times)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    size_t i;

    say(t, PB_DIR_S, "220 mx ESMTP\r\n");
    say(t, PB_DIR_C, "EHLO probe.example\r\n");
    pb_transcript_add(t, PB_DIR_DNS_Q, "a\0b", 3);
    say(t, PB_DIR_IMAP_S, "* OK\r\n");
    cr_assert_eq(pb_transcript_count(t), 4);
    assert_entry(t, 0, PB_DIR_S, "220 mx ESMTP\r\n");
    assert_entry(t, 1, PB_DIR_C, "EHLO probe.example\r\n");
    cr_assert_eq(pb_transcript_entry(t, 2)->dir, PB_DIR_DNS_Q);
    cr_assert_eq(pb_transcript_entry(t, 2)->len, 3);
    cr_assert_eq(memcmp(pb_transcript_entry(t, 2)->p, "a\0b", 4), 0);
    assert_entry(t, 3, PB_DIR_IMAP_S, "* OK\r\n");
    for (i = 0; i < 4; i++) {
        const struct pb_transcript_entry *e = pb_transcript_entry(t, i);

        cr_assert_gt(e->t_ms, 1600000000000LL); /* after 2020 */
        cr_assert_geq(e->rel_ms, 0);
        if (i > 0)
            cr_assert_geq(e->rel_ms, pb_transcript_entry(t, i - 1)->rel_ms);
    }
    cr_assert_null(pb_transcript_entry(t, 4));
    cr_assert_eq(pb_transcript_dropped(t), 0);
    pb_transcript_free(t);
    pb_transcript_free(NULL);
}

Test(pb_transcript, names_directions)
{
    cr_assert_str_eq(pb_transcript_dir_name(PB_DIR_C), "C");
    cr_assert_str_eq(pb_transcript_dir_name(PB_DIR_S), "S");
    cr_assert_str_eq(pb_transcript_dir_name(PB_DIR_DNS_Q), "DNS?");
    cr_assert_str_eq(pb_transcript_dir_name(PB_DIR_DNS_A), "DNS!");
    cr_assert_str_eq(pb_transcript_dir_name(PB_DIR_IMAP_C), "IMAP>");
    cr_assert_str_eq(pb_transcript_dir_name(PB_DIR_IMAP_S), "IMAP<");
    cr_assert_str_eq(pb_transcript_dir_name(PB_DIR_NOTE), "NOTE");
}

Test(pb_transcript, reassembles_lines_from_any_chunking)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);

    say(t, PB_DIR_S, "250-mx\r\n250-PIPE");
    say(t, PB_DIR_S, "LINING\r");
    say(t, PB_DIR_S, "\n250 OK\n");
    say(t, PB_DIR_C, "MAIL FROM:<a@exa");
    cr_assert_eq(pb_transcript_count(t), 3);
    say(t, PB_DIR_C, "mple.com>\r\nRCPT TO:<b@example.com>\r\n");
    assert_entry(t, 0, PB_DIR_S, "250-mx\r\n");
    assert_entry(t, 1, PB_DIR_S, "250-PIPELINING\r\n");
    assert_entry(t, 2, PB_DIR_S, "250 OK\n");
    assert_entry(t, 3, PB_DIR_C, "MAIL FROM:<a@example.com>\r\n");
    assert_entry(t, 4, PB_DIR_C, "RCPT TO:<b@example.com>\r\n");
    say(t, PB_DIR_C, "QU");
    say(t, PB_DIR_S, "221 by");
    pb_transcript_flush(t);
    assert_entry(t, 5, PB_DIR_C, "QU");
    assert_entry(t, 6, PB_DIR_S, "221 by");
    pb_transcript_free(t);
}

Test(pb_transcript, keeps_overlong_server_line_in_pieces)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    size_t n = 3 * PB_LIMIT_REPLY_LINE, i, total = 0;
    char *line = malloc(n);

    memset(line, 'A', n);
    memcpy(line, "250 ", 4);
    memcpy(line + n - 2, "\r\n", 2);
    pb_transcript_add_server(t, line, n);
    cr_assert_eq(pb_transcript_count(t), 3);
    for (i = 0; i < 3; i++) {
        const struct pb_transcript_entry *e = pb_transcript_entry(t, i);

        cr_assert_eq(memcmp(e->p, line + total, e->len), 0);
        total += e->len;
    }
    cr_assert_eq(total, n);
    free(line);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_auth_plain_inline)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "AUTH PLAIN %s\r\n", b64_plain);
    say(t, PB_DIR_C, cmd);
    cr_assert(pb_transcript_in_sasl(t));
    say(t, PB_DIR_S, "235 2.7.0 Accepted\r\n");
    cr_assert_not(pb_transcript_in_sasl(t));
    say(t, PB_DIR_C, "MAIL FROM:<user@example.com>\r\n");
    assert_entry(t, 0, PB_DIR_C, "AUTH PLAIN [redacted]\r\n");
    assert_entry(t, 1, PB_DIR_S, "235 2.7.0 Accepted\r\n");
    assert_entry(t, 2, PB_DIR_C, "MAIL FROM:<user@example.com>\r\n");
    assert_no_secret(t);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_auth_plain_split_mid_argument)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    char cmd[256];
    size_t n, i;

    n = (size_t)snprintf(cmd, sizeof(cmd), "AUTH PLAIN %s\r\n", b64_plain);
    for (i = 0; i < n; i++)
        pb_transcript_add_client(t, cmd + i, 1);
    assert_entry(t, 0, PB_DIR_C, "AUTH PLAIN [redacted]\r\n");
    assert_no_secret(t);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_lower_case_auth_plain)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "auth plain %s\r\n", b64_plain);
    say(t, PB_DIR_C, cmd);
    say(t, PB_DIR_S, "535 5.7.8 Error: authentication failed\r\n");
    say(t, PB_DIR_C, "QUIT\r\n");
    assert_entry(t, 0, PB_DIR_C, "auth plain [redacted]\r\n");
    assert_entry(t, 2, PB_DIR_C, "QUIT\r\n");
    assert_no_secret(t);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_auth_login_round_trips)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    char line[128];

    say(t, PB_DIR_C, "AUTH LOGIN\r\n");
    say(t, PB_DIR_S, "334 VXNlcm5hbWU6\r\n");
    snprintf(line, sizeof(line), "%s\r\n", b64_user);
    say(t, PB_DIR_C, line);
    say(t, PB_DIR_S, "334 UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof(line), "%s\r\n", b64_pass);
    say(t, PB_DIR_C, line);
    say(t, PB_DIR_S, "235 2.7.0 Authentication successful\r\n");
    say(t, PB_DIR_C, "MAIL FROM:<user@example.com>\r\n");
    assert_entry(t, 0, PB_DIR_C, "AUTH LOGIN\r\n");
    assert_entry(t, 1, PB_DIR_S, "334 VXNlcm5hbWU6\r\n");
    assert_entry(t, 2, PB_DIR_C, "[redacted]\r\n");
    assert_entry(t, 3, PB_DIR_S, "334 UGFzc3dvcmQ6\r\n");
    assert_entry(t, 4, PB_DIR_C, "[redacted]\r\n");
    assert_entry(t, 6, PB_DIR_C, "MAIL FROM:<user@example.com>\r\n");
    assert_no_secret(t);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_auth_login_initial_response)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    char line[128];

    snprintf(line, sizeof(line), "AUTH LOGIN %s\r\n", b64_user);
    say(t, PB_DIR_C, line);
    say(t, PB_DIR_S, "334 UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof(line), "%s\r\n", b64_pass);
    say(t, PB_DIR_C, line);
    say(t, PB_DIR_S,
        "535-5.7.8 Username and Password not accepted.\r\n"
        "535 5.7.8 Learn more\r\n");
    say(t, PB_DIR_C, "QUIT\r\n");
    assert_entry(t, 0, PB_DIR_C, "AUTH LOGIN [redacted]\r\n");
    assert_entry(t, 2, PB_DIR_C, "[redacted]\r\n");
    assert_entry(t, 5, PB_DIR_C, "QUIT\r\n");
    cr_assert_not(has(pb_transcript_entry(t, 0)->p,
                      pb_transcript_entry(t, 0)->len, b64_user));
    assert_no_secret(t);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_xoauth2_and_keeps_error_challenge)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    static const char challenge[] =
        "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n";
    char line[512];

    snprintf(line, sizeof(line), "AUTH XOAUTH2 %s\r\n", b64_xoauth);
    say(t, PB_DIR_C, line);
    say(t, PB_DIR_S, challenge);
    say(t, PB_DIR_C, "\r\n");
    say(t, PB_DIR_S, "535 5.7.3 Authentication unsuccessful\r\n");
    say(t, PB_DIR_C, "QUIT\r\n");
    assert_entry(t, 0, PB_DIR_C, "AUTH XOAUTH2 [redacted]\r\n");
    assert_entry(t, 1, PB_DIR_S, challenge);
    assert_entry(t, 2, PB_DIR_C, "[redacted]\r\n");
    assert_entry(t, 4, PB_DIR_C, "QUIT\r\n");
    assert_no_secret(t);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_unknown_mechanism_whole)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);

    say(t, PB_DIR_C, "AUTH PLAINczNjcjN0LVA0c3M\r\n");
    say(t, PB_DIR_C, "AUTH\r\n");
    assert_entry(t, 0, PB_DIR_C, "AUTH [redacted]\r\n");
    assert_entry(t, 1, PB_DIR_C, "[redacted]\r\n");
    assert_no_secret(t);
    pb_transcript_free(t);
}

Test(pb_transcript, redacts_overlong_client_line)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    size_t n = PB_LIMIT_CLIENT_LINE + 100;
    char *line = malloc(n);

    memset(line, 'x', n);
    memcpy(line, "AUTH LOGIN s3cr3t-P4ss", 22);
    memcpy(line + n - 2, "\r\n", 2);
    pb_transcript_add_client(t, line, 5000);
    pb_transcript_add_client(t, line + 5000, n - 5000);
    cr_assert_eq(pb_transcript_count(t), 1);
    assert_entry(t, 0, PB_DIR_C, "[redacted: client line over limit]\r\n");
    cr_assert(pb_transcript_in_sasl(t));
    assert_no_secret(t);
    free(line);
    pb_transcript_free(t);
}

Test(pb_transcript, sasl_ends_only_on_final_non_3xx_reply)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);

    say(t, PB_DIR_C, "AUTH CRAM-MD5\r\n");
    say(t, PB_DIR_S, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+\r\n");
    cr_assert(pb_transcript_in_sasl(t));
    say(t, PB_DIR_S, "235-continues\r\n");
    cr_assert(pb_transcript_in_sasl(t));
    say(t, PB_DIR_S, "235 ok\r\n");
    cr_assert_not(pb_transcript_in_sasl(t));
    pb_transcript_free(t);
}

Test(pb_transcript, truncates_with_one_explicit_entry)
{
    size_t limit = 1024, i, count, offered = 0;
    struct pb_transcript *t = pb_transcript_new(limit);
    const struct pb_transcript_entry *e;
    char want[96];

    for (i = 0; i < 100; i++) {
        say(t, PB_DIR_S, "250 2.1.5 recipient ok\r\n");
        if (pb_transcript_dropped(t) > 0 && offered == 0)
            offered = 24; /* the first line not kept */
        else if (offered > 0)
            offered += 24;
    }
    count = pb_transcript_count(t);
    cr_assert_lt(count, 100);
    cr_assert_eq(pb_transcript_dropped(t), offered);
    e = pb_transcript_entry(t, count - 1);
    cr_assert_eq(e->dir, PB_DIR_NOTE);
    snprintf(want, sizeof(want),
             "transcript truncated: %zu more bytes not kept", offered);
    assert_entry(t, count - 1, PB_DIR_NOTE, want);
    /* nothing is stored after the note, even what would fit */
    pb_transcript_add(t, PB_DIR_DNS_A, "x", 1);
    cr_assert_eq(pb_transcript_count(t), count);
    cr_assert_eq(pb_transcript_dropped(t), offered + 1);
    for (i = 0; i + 1 < count; i++)
        assert_entry(t, i, PB_DIR_S, "250 2.1.5 recipient ok\r\n");
    pb_transcript_free(t);
}

Test(pb_transcript, renders_escaped_text)
{
    struct pb_transcript *t = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    struct pb_buf out;
    const char *s;

    say(t, PB_DIR_C, "EHLO x\r\n");
    pb_transcript_add_server(t, "250 a\x01\xff\\b\n", 10);
    pb_buf_init(&out, 4096);
    cr_assert_eq(pb_transcript_render_text(t, &out), 0);
    s = out.p;
    cr_assert_eq(s[0], '+');
    cr_assert_not_null(strstr(s, "ms C: EHLO x\n+"));
    cr_assert_not_null(strstr(s, "ms S: 250 a\\x01\\xff\\\\b\\n\n"));
    pb_buf_release(&out);

    /* a full buffer keeps whole lines only */
    pb_buf_init(&out, 20);
    cr_assert_eq(pb_transcript_render_text(t, &out), -1);
    cr_assert_eq(out.p[out.len - 1], '\n');
    cr_assert_not_null(strstr(out.p, "C: EHLO x\n"));
    pb_buf_release(&out);
    pb_transcript_free(t);
}
