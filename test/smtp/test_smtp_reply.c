/* SPDX-License-Identifier: MIT */
/*
 * The SMTP reply parser (smtp/smtp_reply.c): valid replies, every
 * chunking of them, each limit exactly and one over, hostile input, and
 * the enhanced status helpers.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "pb_limits.h"
#include "smtp_reply.h"

#define MAXR 16

struct run {
    int rc;
    struct pb_err err;
    size_t n;
    struct smtp_reply r[MAXR];
};

static void
run_release(struct run *u)
{
    size_t i;

    for (i = 0; i < u->n; i++)
        smtp_reply_release(&u->r[i]);
}

/* Feed s in pieces of the given sizes (0 ends the list) and collect. */
static void
run_split(struct run *u, const char *s, size_t len, const size_t *cuts)
{
    struct smtp_reply_parser p;
    size_t off = 0;

    memset(u, 0, sizeof(*u));
    smtp_reply_parser_init(&p, PB_STAGE_CONNECT);
    while (off < len && u->rc == 0) {
        size_t k = cuts != NULL && *cuts ? *cuts++ : len - off;

        if (k > len - off)
            k = len - off;
        u->rc = smtp_reply_feed(&p, s + off, k, &u->err);
        off += k;
        while (u->n < MAXR && smtp_reply_next(&p, &u->r[u->n]))
            u->n++;
    }
    smtp_reply_parser_release(&p);
}

static void
run(struct run *u, const char *s, size_t len)
{
    run_split(u, s, len, NULL);
}

static void
assert_same(const struct run *a, const struct run *b)
{
    size_t i, k;

    cr_assert_eq(a->rc, b->rc);
    cr_assert_eq(a->n, b->n);
    for (i = 0; i < a->n; i++) {
        cr_assert_eq(a->r[i].code, b->r[i].code);
        cr_assert_str_eq(a->r[i].status, b->r[i].status);
        cr_assert_str_eq(a->r[i].oddity, b->r[i].oddity);
        cr_assert_eq(a->r[i].nlines, b->r[i].nlines);
        for (k = 0; k < a->r[i].nlines; k++) {
            cr_assert_eq(a->r[i].line_lens[k], b->r[i].line_lens[k]);
            cr_assert_eq(memcmp(a->r[i].lines[k], b->r[i].lines[k],
                                a->r[i].line_lens[k]),
                         0);
        }
    }
    if (a->rc != 0) {
        cr_assert_eq(a->err.code, b->err.code);
        cr_assert_str_eq(a->err.msg, b->err.msg);
    }
}

static const char ehlo[] = "250-mx.example.com at your service\r\n"
                           "250-SIZE 35882577\r\n"
                           "250-8BITMIME\r\n"
                           "250-AUTH LOGIN PLAIN XOAUTH2\r\n"
                           "250-ENHANCEDSTATUSCODES\r\n"
                           "250-PIPELINING\r\n"
                           "250 SMTPUTF8\r\n";

Test(smtp_reply, parses_multiline_ehlo)
{
    struct run u;

    run(&u, ehlo, strlen(ehlo));
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(u.n, 1);
    cr_assert_eq(u.r[0].code, 250);
    cr_assert_eq(u.r[0].nlines, 7);
    cr_assert_str_eq(u.r[0].lines[0], "mx.example.com at your service");
    cr_assert_str_eq(u.r[0].lines[3], "AUTH LOGIN PLAIN XOAUTH2");
    cr_assert_str_eq(u.r[0].lines[6], "SMTPUTF8");
    cr_assert_str_eq(u.r[0].status, "");
    cr_assert_not(u.r[0].has_oddities);
    run_release(&u);
}

Test(smtp_reply, extracts_enhanced_status)
{
    static const char s[] =
        "550-5.7.26 This mail has been blocked because the sender is\r\n"
        "550-5.7.26 unauthenticated.\r\n"
        "550 5.7.26 Gmail requires all senders to authenticate.\r\n";
    struct run u;

    run(&u, s, strlen(s));
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(u.n, 1);
    cr_assert_eq(u.r[0].code, 550);
    cr_assert_str_eq(u.r[0].status, "5.7.26");
    cr_assert_eq(u.r[0].nlines, 3);
    cr_assert_str_eq(u.r[0].lines[1], "5.7.26 unauthenticated.");
    cr_assert_not(u.r[0].has_oddities);
    run_release(&u);
}

Test(smtp_reply, queues_pipelined_replies_and_bare_code)
{
    static const char s[] = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354\r\n";
    struct run u;

    run(&u, s, strlen(s));
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(u.n, 3);
    cr_assert_str_eq(u.r[1].status, "2.1.5");
    cr_assert_eq(u.r[2].code, 354);
    cr_assert_eq(u.r[2].nlines, 1);
    cr_assert_eq(u.r[2].line_lens[0], 0);
    cr_assert_str_eq(u.r[2].status, "");
    run_release(&u);
}

static const char mixed[] = "220 mx.example.com ESMTP\r\n"
                            "250-mx.example.com\r\n"
                            "250-STARTTLS\r\n"
                            "250 8BITMIME\n"
                            "550-5.1.1 no such\r\n"
                            "550 5.1.1 user \x01\xff\r\n";

Test(smtp_reply, same_result_split_at_every_offset)
{
    struct run whole, u;
    size_t len = strlen(mixed), i;

    run(&whole, mixed, len);
    cr_assert_eq(whole.rc, 0);
    cr_assert_eq(whole.n, 3);
    for (i = 0; i <= len; i++) {
        size_t cuts[] = {i, 0};

        if (i == 0)
            continue;
        run_split(&u, mixed, len, cuts);
        assert_same(&whole, &u);
        run_release(&u);
    }
    run_release(&whole);
}

Test(smtp_reply, same_result_one_byte_at_a_time)
{
    static size_t ones[sizeof(mixed) + 1];
    struct run whole, u;
    size_t len = strlen(mixed), i;

    for (i = 0; i < len; i++)
        ones[i] = 1;
    run(&whole, mixed, len);
    run_split(&u, mixed, len, ones);
    assert_same(&whole, &u);
    run_release(&u);
    run_release(&whole);
}

Test(smtp_reply, same_result_in_random_splits)
{
    struct run whole, u;
    size_t len = strlen(mixed), cuts[64], i, k;
    unsigned seed = 12345;

    run(&whole, mixed, len);
    for (i = 0; i < 500; i++) {
        for (k = 0; k < 63; k++) {
            seed = seed * 1103515245u + 12345u;
            cuts[k] = 1 + (seed >> 16) % 17;
        }
        cuts[63] = 0;
        run_split(&u, mixed, len, cuts);
        assert_same(&whole, &u);
        run_release(&u);
    }
    run_release(&whole);
}

/* A reply line "250<sep><fill x>" + terminator of total bytes n. */
static size_t
put_line(char *dst, size_t n, char sep, const char *term)
{
    size_t tl = strlen(term);

    memcpy(dst, "250", 3);
    dst[3] = sep;
    memset(dst + 4, 'x', n - 4 - tl);
    memcpy(dst + n - tl, term, tl);
    return n;
}

Test(smtp_reply, line_exactly_at_limit_and_one_over)
{
    char buf[PB_LIMIT_REPLY_LINE + 2];
    struct run u;
    size_t n;

    n = put_line(buf, PB_LIMIT_REPLY_LINE, ' ', "\r\n");
    run(&u, buf, n);
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(u.r[0].line_lens[0], PB_LIMIT_REPLY_LINE - 6);
    run_release(&u);

    n = put_line(buf, PB_LIMIT_REPLY_LINE, ' ', "\n");
    run(&u, buf, n);
    cr_assert_eq(u.rc, 0);
    cr_assert(u.r[0].has_oddities);
    run_release(&u);

    n = put_line(buf, PB_LIMIT_REPLY_LINE + 1, ' ', "\r\n");
    run(&u, buf, n);
    cr_assert_eq(u.rc, -1);
    cr_assert_eq(u.err.code, PB_E_LIMIT);
    cr_assert_eq(u.err.stage, PB_STAGE_CONNECT);
    cr_assert_eq(u.err.reply, 0);
    run_release(&u);

    /* the limit holds however the line is chunked */
    {
        static size_t ones[PB_LIMIT_REPLY_LINE + 2];
        size_t i;

        for (i = 0; i < n; i++)
            ones[i] = 1;
        run_split(&u, buf, n, ones);
        cr_assert_eq(u.rc, -1);
        cr_assert_eq(u.err.code, PB_E_LIMIT);
    }
}

Test(smtp_reply, lines_exactly_at_limit_and_one_over)
{
    size_t max = PB_LIMIT_REPLY_LINES, i, n = 0;
    char *buf = malloc((max + 1) * 8);
    struct run u;

    for (i = 0; i + 1 < max; i++)
        n += put_line(buf + n, 7, '-', "\r\n");
    n += put_line(buf + n, 7, ' ', "\r\n");
    run(&u, buf, n);
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(u.r[0].nlines, max);
    run_release(&u);

    n = 0;
    for (i = 0; i < max; i++)
        n += put_line(buf + n, 7, '-', "\r\n");
    n += put_line(buf + n, 7, ' ', "\r\n");
    run(&u, buf, n);
    cr_assert_eq(u.rc, -1);
    cr_assert_eq(u.err.code, PB_E_LIMIT);
    free(buf);
}

/* 127 lines of 512 octets, one of `a` octets and "250 a\r\n" (7). */
static size_t
total_reply(char *buf, size_t a)
{
    size_t i, n = 0;

    for (i = 0; i < 127; i++)
        n += put_line(buf + n, PB_LIMIT_REPLY_LINE, '-', "\r\n");
    n += put_line(buf + n, a, '-', "\r\n");
    memcpy(buf + n, "250 a\r\n", 7);
    return n + 7;
}

Test(smtp_reply, total_exactly_at_limit_and_one_over)
{
    char *buf = malloc(PB_LIMIT_REPLY_TOTAL + 1024);
    struct run u;
    size_t n;

    n = total_reply(buf, 505);
    cr_assert_eq(n, PB_LIMIT_REPLY_TOTAL);
    run(&u, buf, n);
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(u.r[0].nlines, 129);
    run_release(&u);

    n = total_reply(buf, 506);
    cr_assert_eq(n, PB_LIMIT_REPLY_TOTAL + 1);
    run(&u, buf, n);
    cr_assert_eq(u.rc, -1);
    cr_assert_eq(u.err.code, PB_E_LIMIT);
    free(buf);
}

Test(smtp_reply, rejects_100000_continuation_lines)
{
    size_t n = 100000, i;
    char *buf = malloc(n * 8 + 8);
    size_t len = 0;
    struct run u;

    for (i = 0; i < n; i++)
        len += put_line(buf + len, 7, '-', "\r\n");
    len += put_line(buf + len, 7, ' ', "\r\n");
    run(&u, buf, len);
    cr_assert_eq(u.rc, -1);
    cr_assert_eq(u.err.code, PB_E_LIMIT);
    cr_assert_eq(u.n, 0);
    free(buf);
}

Test(smtp_reply, rejects_1mb_line_without_buffering_it)
{
    size_t n = 1024 * 1024, i;
    char *buf = malloc(n);
    struct smtp_reply_parser p;
    struct pb_err err;
    int rc = 0;

    memcpy(buf, "250 ", 4);
    memset(buf + 4, 'A', n - 6);
    memcpy(buf + n - 2, "\r\n", 2);
    smtp_reply_parser_init(&p, PB_STAGE_DATA);
    for (i = 0; i < n && rc == 0; i += 4096)
        rc = smtp_reply_feed(&p, buf + i, n - i < 4096 ? n - i : 4096, &err);
    cr_assert_eq(rc, -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_eq(err.stage, PB_STAGE_DATA);
    cr_assert_leq(p.line.cap, PB_LIMIT_REPLY_LINE + 1);
    /* sticky: valid input afterwards still fails the same way */
    cr_assert_eq(smtp_reply_feed(&p, "250 ok\r\n", 8, &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    smtp_reply_parser_release(&p);
    free(buf);
}

/* Inline arrays: Criterion runs each parameter in a new process, where
 * pointers into the parent's image would not hold. */
struct bad_case {
    char in[32];
    enum pb_code code;
};

ParameterizedTestParameters(smtp_reply, rejects_malformed)
{
    static struct bad_case cases[] = {
        {"600 no\r\n", PB_E_SYNTAX}, {"199 no\r\n", PB_E_SYNTAX},
        {"55\r\n", PB_E_SYNTAX},     {"5500 x\r\n", PB_E_SYNTAX},
        {"550x\r\n", PB_E_SYNTAX},   {"550-a\r\n551 b\r\n", PB_E_SYNTAX},
        {"\r\n", PB_E_SYNTAX},       {" 250 ok\r\n", PB_E_SYNTAX},
        {"abc\r\n", PB_E_SYNTAX},    {"2a0 ok\r\n", PB_E_SYNTAX},
    };

    return cr_make_param_array(struct bad_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, smtp_reply, rejects_malformed)
{
    struct run u;

    run(&u, c->in, strlen(c->in));
    cr_assert_eq(u.rc, -1, "%s", c->in);
    cr_assert_eq(u.err.code, c->code);
    cr_assert_eq(u.err.reply, 0);
    cr_assert_str_eq(u.err.status, "");
    cr_assert_neq(u.err.evidence[0], '\0');
    run_release(&u);
}

Test(smtp_reply, disagreeing_codes_name_both)
{
    struct run u;

    run(&u, "550-a\r\n551 b\r\n", 14);
    cr_assert_eq(u.rc, -1);
    cr_assert(strstr(u.err.msg, "550") && strstr(u.err.msg, "551"));
    cr_assert_str_eq(u.err.evidence, "551 b\\r\\n");
}

struct odd_case {
    char in[32];
    size_t len;
    char status[16];
    char oddity[64];
};

ParameterizedTestParameters(smtp_reply, keeps_odd_input_as_evidence)
{
    static struct odd_case cases[] = {
        {"250 ok\0x\r\n", 10, "", "non-printable bytes in 250 reply"},
        {"250 a\rb\r\n", 9, "", "non-printable bytes in 250 reply"},
        {"250 caf\xc3\xa9\r\n", 11, "", "non-printable bytes in 250 reply"},
        {"550 5.1.1.1 x\r\n", 15, "", "malformed enhanced status"},
        {"550 9.9.9 x\r\n", 13, "", "malformed enhanced status"},
        {"550 5.1234.1 x\r\n", 16, "", "malformed enhanced status"},
        {"250 5.7.1 ok\r\n", 14, "",
         "enhanced status 5.7.1 does not match reply 250"},
        {"250 ok\n", 7, "", "bare LF line ending"},
        {"290 2.0.0 ok\r\n", 14, "2.0.0",
         "reply code 290 outside RFC 5321 section 4.2"},
        {"250 ok\ttab\r\n", 12, "", ""},
    };

    return cr_make_param_array(struct odd_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct odd_case *c, smtp_reply, keeps_odd_input_as_evidence)
{
    struct run u;

    run(&u, c->in, c->len);
    cr_assert_eq(u.rc, 0);
    cr_assert_eq(u.n, 1);
    cr_assert_str_eq(u.r[0].status, c->status);
    cr_assert_str_eq(u.r[0].oddity, c->oddity);
    cr_assert_eq(u.r[0].has_oddities, c->oddity[0] != '\0');
    /* the raw text is kept, byte for byte */
    cr_assert_eq(u.r[0].line_lens[0],
                 c->len - 4 - (c->in[c->len - 2] == '\r' ? 2 : 1));
    cr_assert_eq(memcmp(u.r[0].lines[0], c->in + 4, u.r[0].line_lens[0]), 0);
    run_release(&u);
}

Test(smtp_reply, pending_bytes_after_starttls_220)
{
    struct smtp_reply_parser p;
    struct smtp_reply r;
    struct pb_err err;
    static const char s[] = "220 2.0.0 go ahead\r\n250-injected\r\n";

    smtp_reply_parser_init(&p, PB_STAGE_TLS);
    cr_assert_not(smtp_reply_parser_pending(&p));
    cr_assert_eq(smtp_reply_feed(&p, s, strlen(s), &err), 0);
    cr_assert(smtp_reply_next(&p, &r));
    cr_assert_eq(r.code, 220);
    smtp_reply_release(&r);
    cr_assert_not(smtp_reply_next(&p, &r));
    cr_assert(smtp_reply_parser_pending(&p));
    smtp_reply_parser_release(&p);

    smtp_reply_parser_init(&p, PB_STAGE_TLS);
    cr_assert_eq(smtp_reply_feed(&p, "220 go\r\n", 8, &err), 0);
    cr_assert(smtp_reply_next(&p, &r));
    smtp_reply_release(&r);
    cr_assert_not(smtp_reply_parser_pending(&p));
    cr_assert_eq(smtp_reply_feed(&p, "2", 1, &err), 0);
    cr_assert(smtp_reply_parser_pending(&p));
    smtp_reply_parser_release(&p);
}

Test(smtp_reply_status, validates)
{
    cr_assert(smtp_reply_status_valid("5.7.26", 550));
    cr_assert(smtp_reply_status_valid("5.7.26", 0));
    cr_assert(smtp_reply_status_valid("4.123.456", 421));
    cr_assert(smtp_reply_status_valid("2.0.0", 250));
    cr_assert_not(smtp_reply_status_valid("5.7.26", 450));
    cr_assert_not(smtp_reply_status_valid("5.7.26", 250));
    cr_assert_not(smtp_reply_status_valid("3.0.0", 0));
    cr_assert_not(smtp_reply_status_valid("9.9.9", 0));
    cr_assert_not(smtp_reply_status_valid("5.7", 0));
    cr_assert_not(smtp_reply_status_valid("5.7.", 0));
    cr_assert_not(smtp_reply_status_valid("5..1", 0));
    cr_assert_not(smtp_reply_status_valid("5.1.1.1", 0));
    cr_assert_not(smtp_reply_status_valid("5.1234.1", 0));
    cr_assert_not(smtp_reply_status_valid("5.7.26 ", 0));
    cr_assert_not(smtp_reply_status_valid("", 0));
    cr_assert_not(smtp_reply_status_valid("55.7.26", 0));
}

Test(smtp_reply_status, finds_at_start_of_text)
{
    char out[16];

    cr_assert_eq(smtp_reply_status_find("5.7.26 blocked", 14, 550, out), 6);
    cr_assert_str_eq(out, "5.7.26");
    cr_assert_eq(smtp_reply_status_find("4.4.1", 5, 421, out), 5);
    cr_assert_str_eq(out, "4.4.1");
    cr_assert_eq(smtp_reply_status_find("5.7.26 blocked", 14, 250, out), 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(smtp_reply_status_find("ok 5.7.26", 9, 550, out), 0);
    cr_assert_eq(smtp_reply_status_find("5.7.26x", 7, 550, out), 0);
    cr_assert_eq(smtp_reply_status_find("5.7.2", 3, 550, out), 0);
}

Test(smtp_reply_status, names_registry_meanings)
{
    cr_assert_str_eq(smtp_status_meaning("5.7.26"),
                     "multiple authentication checks failed");
    cr_assert_str_eq(smtp_status_meaning("5.7.20"),
                     "no passing DKIM signature found");
    cr_assert_str_eq(smtp_status_meaning("5.7.23"), "SPF validation failed");
    cr_assert_str_eq(smtp_status_meaning("5.7.27"),
                     "sender address has null MX");
    cr_assert_str_eq(smtp_status_meaning("5.7.30"),
                     "REQUIRETLS support required");
    cr_assert_str_eq(smtp_status_meaning("5.1.1"),
                     "bad destination mailbox address");
    cr_assert_str_eq(smtp_status_meaning("5.1.10"),
                     "recipient address has null MX");
    cr_assert_str_eq(smtp_status_meaning("4.7.0"),
                     "other or undefined security status");
    cr_assert_str_eq(smtp_status_meaning("5.7.99"),
                     "other or undefined security status");
    cr_assert_str_eq(smtp_status_meaning("4.4.99"),
                     "other or undefined network or routing status");
    cr_assert_str_eq(smtp_status_meaning("2.0.0"), "other undefined status");
    cr_assert_str_eq(smtp_status_meaning("5.9.1"), "permanent failure");
    cr_assert_str_eq(smtp_status_meaning("4.8.8"),
                     "persistent transient failure");
    cr_assert_null(smtp_status_meaning("3.0.0"));
    cr_assert_null(smtp_status_meaning("5.7"));
    cr_assert_null(smtp_status_meaning("5.7.26 x"));
}
