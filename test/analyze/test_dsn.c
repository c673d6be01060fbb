/* SPDX-License-Identifier: MIT */
/*
 * The bounce parser (analyze/dsn.c, dsn_mta.c) on hand-made messages:
 * RFC 3464 fields and their leniencies, RFC 3463 status validation, reply
 * codes and stages from the wording, the returned message's Message-ID,
 * probe token and Authentication-Results, the other kinds, each limit
 * exactly at and one over, and hostile input (10,000 recipient groups,
 * a 1 MB Diagnostic-Code, deep nesting, truncated and invalid MIME, NUL
 * and 8-bit bytes) with bounded work.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze.h"
#include "dsn_int.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "smtp.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void
parse(const char *msg, size_t len, struct dsn_report *r)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(dsn_parse(msg, len, r, &err), 0, "%s", err.msg);
}

static void
parse_str(const char *msg, struct dsn_report *r)
{
    parse(msg, strlen(msg), r);
}

/* A growable message under construction. */
static struct pb_buf *
msg_new(size_t limit)
{
    struct pb_buf *b = malloc(sizeof(*b));

    cr_assert_not_null(b);
    pb_buf_init(b, limit);
    return b;
}

static void
put(struct pb_buf *b, const char *s)
{
    cr_assert_eq(pb_buf_adds(b, s), 0);
}

static void
msg_free(struct pb_buf *b)
{
    pb_buf_release(b);
    free(b);
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A DSN around a delivery-status body. */
#define DSN_HEAD                                                     \
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"    \
    "To: sender@example.org\n"                                       \
    "Subject: Undelivered Mail Returned to Sender\n"                 \
    "MIME-Version: 1.0\n"                                            \
    "Content-Type: multipart/report; report-type=delivery-status;\n" \
    "\tboundary=\"BND\"\n"                                           \
    "\n"                                                             \
    "--BND\n"                                                        \
    "Content-Type: text/plain\n"                                     \
    "\n"                                                             \
    "Your message could not be delivered.\n"                         \
    "\n"                                                             \
    "--BND\n"                                                        \
    "Content-Type: message/delivery-status\n"                        \
    "\n"                                                             \
    "Reporting-MTA: dns; mx.example.net\n"                           \
    "\n"

#define DSN_TAIL "\n--BND--\n"

static const char simple_dsn[] =
    DSN_HEAD "Final-Recipient: rfc822; User@Example.COM\n"
             "Original-Recipient: rfc822;user@example.com\n"
             "Action: failed\n"
             "Status: 5.1.1\n"
             "Remote-MTA: dns; mx.example.com\n"
             "Diagnostic-Code: smtp; 550 5.1.1 <user@example.com>: Recipient\n"
             "  address rejected: User unknown\n"
             "Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400\n"
             "\n"
             "--BND\n"
             "Content-Type: message/rfc822\n"
             "\n"
             "From: sender@example.org\n"
             "To: user@example.com\n"
             "Message-ID: <abc@example.org>\n"
             "X-Probe-Id: 0123456789abcdef0123456789abcdef\n"
             "Authentication-Results: mx.example.net;\n"
             "\tspf=pass smtp.mailfrom=example.org\n"
             "Authentication-Results: mx.example.net; dkim=pass\n"
             "Subject: hello\n"
             "\n"
             "Hello\n" DSN_TAIL;

/* ------------------------------------------------------------------ */
/* RFC 3464                                                            */

Test(dsn_parse, reads_the_fields_of_a_dsn)
{
    struct dsn_report r;
    const struct dsn_recipient *x;

    parse_str(simple_dsn, &r);
    cr_assert_eq(r.kind, DSN_RFC3464);
    cr_assert_str_eq(dsn_kind_name(r.kind), "dsn");
    cr_assert_str_eq(r.reporting_mta, "mx.example.net");
    cr_assert_str_eq(r.subject, "Undelivered Mail Returned to Sender");
    cr_assert_eq(r.n, 1);
    x = &r.v[0];
    cr_assert_str_eq(x->address, "User@example.com"); /* domain lowered */
    cr_assert_str_eq(x->address_type, "rfc822");
    cr_assert_str_eq(x->original_recipient, "user@example.com");
    cr_assert_str_eq(x->action, "failed");
    cr_assert_str_eq(x->status, "5.1.1");
    cr_assert_str_eq(x->dsn_status, "5.1.1");
    cr_assert_eq(x->reply_code, 550);
    cr_assert_str_eq(x->diagnostic_type, "smtp");
    cr_assert_str_eq(x->diagnostic, "550 5.1.1 <user@example.com>: "
                                    "Recipient address rejected: User "
                                    "unknown");
    cr_assert_str_eq(x->remote_mta, "mx.example.com");
    cr_assert_str_eq(x->last_attempt_date, "Thu, 7 Jul 1994 17:15:49 -0400");
    cr_assert(x->is_permanent);
    cr_assert_str_eq(r.original_message_id, "<abc@example.org>");
    cr_assert_str_eq(r.probe_token, "0123456789abcdef0123456789abcdef");
    cr_assert_str_eq(r.auth_results,
                     "mx.example.net; spf=pass smtp.mailfrom=example.org\n"
                     "mx.example.net; dkim=pass");
    cr_assert_not(r.is_truncated);
    dsn_report_release(&r);
}

/* The same report whatever the line ends. */
Test(dsn_parse, crlf_and_bare_cr_read_alike)
{
    static const char *const eols[] = {"\r\n", "\r"};
    size_t k, i, o;

    for (k = 0; k < 2; k++) {
        size_t n = strlen(simple_dsn);
        char *m = malloc(n * 2 + 1);
        struct dsn_report r;

        cr_assert_not_null(m);
        for (i = 0, o = 0; i < n; i++) {
            if (simple_dsn[i] == '\n') {
                memcpy(m + o, eols[k], strlen(eols[k]));
                o += strlen(eols[k]);
            } else {
                m[o++] = simple_dsn[i];
            }
        }
        parse(m, o, &r);
        cr_assert_eq(r.n, 1);
        cr_assert_str_eq(r.v[0].status, "5.1.1");
        cr_assert_eq(r.v[0].reply_code, 550);
        cr_assert_str_eq(r.v[0].diagnostic,
                         "550 5.1.1 <user@example.com>: Recipient address "
                         "rejected: User unknown");
        cr_assert_str_eq(r.probe_token, "0123456789abcdef0123456789abcdef");
        cr_assert_str_eq(r.original_message_id, "<abc@example.org>");
        dsn_report_release(&r);
        free(m);
    }
}

Test(dsn_parse, several_recipients_and_stray_empty_lines)
{
    static const char m[] =
        DSN_HEAD "Original-Recipient: rfc822;a@example.com\n"
                 "Final-Recipient: rfc822;a@example.com\n"
                 "Action: failed\n"
                 "\n"
                 "Status: 5.2.2\n" /* a stray empty line before it */
                 "\n"
                 "Final-Recipient: rfc822;b@example.com\n"
                 "Action: delayed\n"
                 "Status: 4.4.1\n"
                 "Final-Recipient: rfc822;c@example.com\n" /* no empty line */
                 "Action: failed\n"
                 "Status: 5.0.0\n"
                 "Diagnostic-Code: smtp; 550 user unknown\n" DSN_TAIL;
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.n, 3);
    cr_assert_str_eq(r.v[0].address, "a@example.com");
    cr_assert_str_eq(r.v[0].status, "5.2.2");
    cr_assert_str_eq(r.v[1].address, "b@example.com");
    cr_assert_str_eq(r.v[1].action, "delayed");
    cr_assert_not(r.v[1].is_permanent);
    cr_assert_str_eq(r.v[2].address, "c@example.com");
    cr_assert_eq(r.v[2].reply_code, 550);
    dsn_report_release(&r);
}

/* The remote's code in the Diagnostic-Code beats the MTA's mapping. */
Test(dsn_parse, remote_status_wins_within_its_class)
{
    static const char m[] =
        DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                 "Action: failed\n"
                 "Status: 4.4.7\n"
                 "Diagnostic-Code: smtp; 450 4.7.1 Client host rejected\n"
                 "\n"
                 "Final-Recipient: rfc822;b@example.com\n"
                 "Action: failed\n"
                 "Status: 4.5.0\n"
                 "Diagnostic-Code: smtp; 550 5.5.0 Service refused\n" DSN_TAIL;
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.v[0].status, "4.7.1");
    cr_assert_str_eq(r.v[0].dsn_status, "4.4.7");
    /* another class: the Status stays */
    cr_assert_str_eq(r.v[1].status, "4.5.0");
    dsn_report_release(&r);
}

ParameterizedTestParameters(dsn_parse, refuses_invalid_status)
{
    static const char *const bad[] = {
        "9.9.9",    "5.1.1.1", "5.1",   "3.1.1",  "5.1000.1",
        "5.1.1000", "5..1",    "x.1.1", "5.1.1x", "",
    };

    return cr_make_param_array(const char *, bad, sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(const char **status, dsn_parse, refuses_invalid_status)
{
    char m[1024];
    struct dsn_report r;

    snprintf(m, sizeof(m),
             DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                      "Action: failed\n"
                      "Status: %s\n" DSN_TAIL,
             *status);
    parse_str(m, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].status, "", "%s", *status);
    cr_assert_str_eq(r.v[0].dsn_status, "");
    /* RFC 3464 §2.3.4 wants RFC 3463: the raw text is kept as evidence */
    cr_assert_not_null(r.v[0].diagnostic);
    cr_assert_not_null(strstr(r.v[0].diagnostic, "Status: "));
    cr_assert_not_null(strstr(r.v[0].diagnostic, *status));
    dsn_report_release(&r);
}

Test(dsn_parse, status_check_and_find)
{
    char out[16];

#define CHECK(s) dsn_status_check(s, strlen(s), out)
#define FIND(s)  dsn_status_find(s, strlen(s), out)
    cr_assert(CHECK("5.1.1"));
    cr_assert_str_eq(out, "5.1.1");
    cr_assert(CHECK(" 4.7.26 (greylisted)"));
    cr_assert_str_eq(out, "4.7.26");
    cr_assert(CHECK("5.123.456"));
    cr_assert(CHECK("2.0.0"));
    cr_assert_not(CHECK("9.9.9"));
    cr_assert_str_eq(out, "");
    cr_assert_not(CHECK("5.1.1.1"));
    /* free text: IP addresses, versions and longer dotted numbers are no
     * status; the code after a reply wins over a summary before it */
    cr_assert_eq(FIND("host 192.0.2.5 said"), -1);
    cr_assert_eq(FIND("Exim 4.92.3 here"), -1);
    cr_assert_eq(FIND("code 5.1.1.1 here"), -1);
    cr_assert_geq(FIND("(#5.5.0)"), 0);
    cr_assert_str_eq(out, "5.5.0");
    cr_assert_geq(FIND("5.1.0 - Unknown address error 550-'5.7.1 denied'"), 0);
    cr_assert_str_eq(out, "5.7.1");
    cr_assert_geq(FIND("250 2.1.5 Ok\n451 4.3.0 Error"), 0);
    cr_assert_str_eq(out, "4.3.0");
#undef CHECK
#undef FIND
}

struct reply_case {
    const char *text;
    int code;
};

ParameterizedTestParameters(dsn_parse, finds_the_reply_code)
{
    static const struct reply_case cases[] = {
        {"smtp; 550 5.1.1 user unknown", 550},
        {"host mx[192.0.2.1] said: 552 over quota", 552},
        {"550-5.7.26 Unauthenticated email\n550 5.7.26 gsmtp", 550},
        {"554 <a@example.com>... 550 Host unknown", 550},
        {">>> DATA\n<<< 554 5.7.1 rejected", 554},
        {"Out: 250 2.1.5 Ok\nOut: 451 4.3.0 Error", 451},
        {"550: 5.2.2 Mailbox Full", 550},
        {"Remote Server returned '550 5.7.1 denied'", 550},
        {"retry timeout exceeded", 0},
        {"at 2013-04-29 port 25 size 1234", 0},
        {"192.0.2.222 refused", 0},
    };

    return cr_make_param_array(struct reply_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct reply_case *c, dsn_parse, finds_the_reply_code)
{
    cr_assert_eq(dsn_reply_find(c->text, strlen(c->text)), c->code, "%s",
                 c->text);
}

struct stage_case {
    const char *text;
    enum pb_stage stage;
};

ParameterizedTestParameters(dsn_parse, finds_the_stage)
{
    static const struct stage_case cases[] = {
        {"550 5.1.1 unknown (in reply to RCPT TO command)", PB_STAGE_RCPT},
        {"550 rejected (in reply to end of DATA command)", PB_STAGE_DATA},
        {"553 sender (in reply to MAIL FROM command)", PB_STAGE_MAIL},
        {"SMTP error from remote mail server after RCPT TO:<a@b.c>:",
         PB_STAGE_RCPT},
        {"SMTP error from remote mail server after end of data:",
         PB_STAGE_DATA},
        {"... while talking to mx.example.com.:\n>>> DATA\n<<< 550 no",
         PB_STAGE_DATA},
        {"host mx refused to talk to me: 554 go away", PB_STAGE_GREETING},
        {"Connected to 192.0.2.1 but sender was rejected.", PB_STAGE_MAIL},
        {"192.0.2.1 does not like recipient.", PB_STAGE_RCPT},
        {"Remote Server returned '550 5.7.1 denied'", PB_STAGE_NONE},
        {"connect to mx[192.0.2.1]:25: Connection refused", PB_STAGE_CONNECT},
    };

    return cr_make_param_array(struct stage_case, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct stage_case *c, dsn_parse, finds_the_stage)
{
    cr_assert_eq(dsn_stage_find(c->text, strlen(c->text)), c->stage, "%s",
                 c->text);
}

/* ------------------------------------------------------------------ */
/* Non-standard bounces and the other kinds                            */

Test(dsn_parse, postfix_text_without_a_report)
{
    static const char m[] =
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
        "To: sender@example.org\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "\n"
        "This is the mail system at host mx.example.net.\n"
        "\n"
        "<user@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1\n"
        "    <user@example.com>: Recipient address rejected: User unknown\n"
        "    (in reply to RCPT TO command)\n"
        "\n"
        "<other@example.com>: host mx.example.com[192.0.2.1] said: 552 5.2.2\n"
        "    Mailbox full (in reply to end of DATA command)\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_NONSTANDARD);
    cr_assert_str_eq(r.mta, "postfix");
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.v[0].address, "user@example.com");
    cr_assert_str_eq(r.v[0].status, "5.1.1");
    cr_assert_eq(r.v[0].reply_code, 550);
    cr_assert_eq(r.v[0].stage, PB_STAGE_RCPT);
    cr_assert_str_eq(r.v[1].address, "other@example.com");
    cr_assert_str_eq(r.v[1].status, "5.2.2");
    cr_assert_eq(r.v[1].reply_code, 552);
    cr_assert_eq(r.v[1].stage, PB_STAGE_DATA);
    dsn_report_release(&r);
}

Test(dsn_parse, exim_text_and_inline_returned_message)
{
    static const char m[] =
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
        "To: sender@example.org\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: user@example.com\n"
        "\n"
        "This message was created automatically by mail delivery software.\n"
        "\n"
        "A message that you sent could not be delivered to one or more of\n"
        "its recipients. This is a permanent error. The following "
        "address(es) failed:\n"
        "\n"
        "  user@example.com\n"
        "    SMTP error from remote mail server after RCPT TO:"
        "<user@example.com>:\n"
        "    host mx.example.com [192.0.2.1]: 550 5.1.1 No such user\n"
        "\n"
        "------ This is a copy of the message, including all the headers. "
        "------\n"
        "\n"
        "Message-ID: <m1@example.org>\n"
        "X-Probe-Id: tok_12345678\n"
        "From: sender@example.org\n"
        "To: user@example.com\n"
        "\n"
        "Body\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_NONSTANDARD);
    cr_assert_str_eq(r.mta, "exim");
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].address, "user@example.com");
    cr_assert_str_eq(r.v[0].status, "5.1.1");
    cr_assert_eq(r.v[0].reply_code, 550);
    cr_assert_eq(r.v[0].stage, PB_STAGE_RCPT);
    cr_assert_str_eq(r.original_message_id, "<m1@example.org>");
    cr_assert_str_eq(r.probe_token, "tok_12345678");
    dsn_report_release(&r);
}

/* smtp/msg_build.c puts the token in each body part too. */
Test(dsn_parse, token_from_the_returned_body)
{
    static const char m[] =
        DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                 "Action: failed\n"
                 "Status: 5.7.1\n"
                 "\n"
                 "--BND\n"
                 "Content-Type: message/rfc822\n"
                 "\n"
                 "Message-ID: <0123456789abcdef@example.org>\n"
                 "Content-Type: multipart/alternative; boundary=\"=_probe_x\"\n"
                 "\n"
                 "--=_probe_x\n"
                 "Content-Type: text/plain; charset=utf-8\n"
                 "Content-Transfer-Encoding: quoted-printable\n"
                 "\n"
                 "Hello,\n"
                 "Reference: 0123456789abcdef0123456789abcdef\n"
                 "--=_probe_x--\n" DSN_TAIL;
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_str_eq(r.probe_token, "0123456789abcdef0123456789abcdef");
    dsn_report_release(&r);
}

/*
 * A real probe message (smtp/msg_build.c) returned in a DSN: the token
 * from X-Probe-Id, and from the body's "Reference:" line of the
 * quoted-printable text part when a relay dropped the X- field.
 */
static void
probe_bounce(bool drop_probe_id, struct dsn_report *r)
{
    static const char token[] = "0123456789abcdef0123456789abcdef";
    const char *to[] = {"seed@example.com"};
    struct msg_build_params mp;
    struct pb_buf *b = msg_new(1024 * 1024);
    struct pb_err err;
    char *msg, *line;
    size_t len;

    memset(&mp, 0, sizeof(mp));
    mp.from = "probe@example.org";
    mp.to = to;
    mp.nto = 1;
    mp.token = token;
    mp.date = 1700000000;
    cr_assert_eq(msg_build(&mp, &msg, &len, &err), 0, "%s", err.msg);
    if (drop_probe_id) {
        line = strstr(msg, "X-Probe-Id: ");
        cr_assert_not_null(line);
        memset(line, 'x', 10); /* "xxxxxxxxxx: TOKEN": another field */
    }
    put(b, DSN_HEAD "Final-Recipient: rfc822;seed@example.com\n"
                    "Action: failed\n"
                    "Status: 5.7.26\n"
                    "\n"
                    "--BND\n"
                    "Content-Type: message/rfc822\n"
                    "\n");
    cr_assert_eq(pb_buf_add(b, msg, len), 0);
    put(b, DSN_TAIL);
    parse(b->p, b->len, r);
    cr_assert_str_eq(r->probe_token, token);
    cr_assert_str_eq(r->original_message_id, "<"
                                             "0123456789abcdef0123456789abcdef"
                                             "@example.org>");
    free(msg);
    msg_free(b);
}

Test(dsn_parse, token_of_a_returned_probe_message)
{
    struct dsn_report r;

    probe_bounce(false, &r);
    dsn_report_release(&r);
    probe_bounce(true, &r);
    dsn_report_release(&r);
}

Test(dsn_parse, a_bad_token_is_not_taken)
{
    static const char m[] = DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                                     "Action: failed\n"
                                     "Status: 5.7.1\n"
                                     "\n"
                                     "--BND\n"
                                     "Content-Type: text/rfc822-headers\n"
                                     "\n"
                                     "Message-ID: <x@example.org>\n"
                                     "X-Probe-Id: short\n" DSN_TAIL;
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_null(r.probe_token);
    cr_assert_str_eq(r.original_message_id, "<x@example.org>");
    dsn_report_release(&r);
}

Test(dsn_parse, ordinary_message_is_no_bounce)
{
    static const char m[] = "From: alice@example.org\n"
                            "To: bob@example.com\n"
                            "Subject: lunch\n"
                            "\n"
                            "Shall we meet at 12:30 at 550 Main Street?\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_NOT_BOUNCE);
    cr_assert_eq(r.n, 0);
    cr_assert_str_eq(dsn_kind_name(r.kind), "not-bounce");
    dsn_report_release(&r);
}

Test(dsn_parse, auto_reply)
{
    static const char m[] = "From: Bob <bob@example.com>\n"
                            "To: alice@example.org\n"
                            "Auto-Submitted: auto-replied\n"
                            "Subject: Out of office\n"
                            "\n"
                            "I am away until Monday.\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_AUTOREPLY);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].address, "bob@example.com");
    cr_assert_not(r.v[0].is_permanent);
    dsn_report_release(&r);
}

Test(dsn_parse, feedback_report)
{
    static const char m[] =
        "From: abuse@example.net\n"
        "To: fbl@example.org\n"
        "Subject: complaint\n"
        "Content-Type: multipart/report; report-type=feedback-report;\n"
        " boundary=\"B\"\n"
        "\n"
        "--B\n"
        "Content-Type: text/plain\n"
        "\n"
        "A complaint.\n"
        "--B\n"
        "Content-Type: message/feedback-report\n"
        "\n"
        "Feedback-Type: abuse\n"
        "User-Agent: x/1.0\n"
        "Version: 1\n"
        "Original-Rcpt-To: <user@example.net>\n"
        "--B--\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_FEEDBACK);
    cr_assert_str_eq(r.feedback_type, "abuse");
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].address, "user@example.net");
    dsn_report_release(&r);
}

Test(dsn_parse, amazon_ses_notification)
{
    static const char m[] =
        "From: no-reply@sns.amazonaws.com\n"
        "To: ops@example.org\n"
        "Subject: AWS Notification Message\n"
        "\n"
        "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":"
        "\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":"
        "\"user@example.com\",\"action\":\"failed\",\"status\":\"5.1.1\","
        "\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}],"
        "\"reportingMTA\":\"dsn; a1.amazonses.com\"},\"mail\":{\"messageId\""
        ":\"0101-abc\"}}\n"
        "\n"
        "--\n"
        "If you wish to stop receiving notifications ...\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_NONSTANDARD);
    cr_assert_str_eq(r.mta, "amazonses");
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].status, "5.1.1");
    cr_assert_eq(r.v[0].reply_code, 550);
    cr_assert_str_eq(r.v[0].diagnostic, "550 5.1.1 user unknown");
    cr_assert_str_eq(r.reporting_mta, "a1.amazonses.com");
    dsn_report_release(&r);
}

Test(dsn_parse, forwarded_bounce_inside_a_message)
{
    static const char m[] =
        "From: customer@example.org\n"
        "To: support@example.com\n"
        "Subject: Fwd: Undelivered Mail\n"
        "Content-Type: multipart/mixed; boundary=\"F\"\n"
        "\n"
        "--F\n"
        "Content-Type: text/plain\n"
        "\n"
        "See below.\n"
        "--F\n"
        "Content-Type: message/rfc822\n"
        "\n" DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
        "Action: failed\n"
        "Status: 5.7.26\n" DSN_TAIL "--F--\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_RFC3464);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].status, "5.7.26");
    dsn_report_release(&r);
}

/* ------------------------------------------------------------------ */
/* Refused input                                                       */

Test(dsn_parse, empty_input_is_refused)
{
    struct dsn_report r;
    struct pb_err err;

    cr_assert_eq(dsn_parse("", 0, &r, &err), -1);
    cr_assert_eq(err.code, PB_E_SYNTAX);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG);
    dsn_report_release(&r);
}

Test(dsn_parse, message_size_limit)
{
    size_t n = PB_LIMIT_MSG_BYTES + 1;
    char *m = malloc(n);
    struct dsn_report r;
    struct pb_err err;

    cr_assert_not_null(m);
    memset(m, 'a', n);
    cr_assert_eq(dsn_parse(m, n, &r, &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    dsn_report_release(&r);
    free(m);
}

/* ------------------------------------------------------------------ */
/* Limits and hostile input                                            */

/* n recipient groups in one report. */
static struct pb_buf *
many_groups(size_t n)
{
    struct pb_buf *b = msg_new(64u * 1024 * 1024);
    size_t i;

    put(b, DSN_HEAD);
    for (i = 0; i < n; i++) {
        char g[160];

        snprintf(g, sizeof(g),
                 "Final-Recipient: rfc822;u%zu@example.com\n"
                 "Action: failed\n"
                 "Status: 5.1.1\n"
                 "\n",
                 i);
        put(b, g);
    }
    put(b, DSN_TAIL);
    return b;
}

Test(dsn_limits, recipients_exactly_at_the_limit)
{
    struct pb_buf *b = many_groups(PB_LIMIT_DSN_RECIPIENTS);
    struct dsn_report r;

    parse(b->p, b->len, &r);
    cr_assert_eq(r.n, PB_LIMIT_DSN_RECIPIENTS);
    cr_assert_not(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_limits, one_recipient_over_is_truncated)
{
    struct pb_buf *b = many_groups(PB_LIMIT_DSN_RECIPIENTS + 1);
    struct dsn_report r;

    parse(b->p, b->len, &r);
    cr_assert_eq(r.n, PB_LIMIT_DSN_RECIPIENTS);
    cr_assert(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_hostile, ten_thousand_groups_bounded)
{
    struct pb_buf *b = many_groups(10000);
    struct dsn_report r;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    parse(b->p, b->len, &r);
    cr_assert_eq(r.n, PB_LIMIT_DSN_RECIPIENTS);
    cr_assert(r.is_truncated);
    cr_assert_lt(seconds_since(&t0), 10.0);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_hostile, one_megabyte_diagnostic_code)
{
    struct pb_buf *b = msg_new(4u * 1024 * 1024);
    struct dsn_report r;
    size_t i;

    put(b, DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                    "Action: failed\n"
                    "Status: 5.0.0\n"
                    "Diagnostic-Code: smtp; 550 5.7.1 ");
    for (i = 0; i < 1024 * 1024 / 64; i++)
        put(b, "blocked blocked blocked blocked blocked blocked blocked b\n "
               "x");
    put(b, "\n" DSN_TAIL);
    parse(b->p, b->len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.v[0].diagnostic_len, PB_LIMIT_DSN_DIAGNOSTIC);
    cr_assert_eq(strlen(r.v[0].diagnostic), PB_LIMIT_DSN_DIAGNOSTIC);
    cr_assert_str_eq(r.v[0].status, "5.7.1");
    cr_assert_eq(r.v[0].reply_code, 550);
    cr_assert(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_limits, diagnostic_exactly_at_the_limit_is_whole)
{
    struct pb_buf *b = msg_new(64 * 1024);
    struct dsn_report r;
    size_t i;

    put(b, DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                    "Action: failed\n"
                    "Status: 5.0.0\n"
                    "Diagnostic-Code: smtp; 550 ");
    for (i = 4; i < PB_LIMIT_DSN_DIAGNOSTIC; i++)
        put(b, "x");
    put(b, "\n" DSN_TAIL);
    parse(b->p, b->len, &r);
    cr_assert_eq(r.v[0].diagnostic_len, PB_LIMIT_DSN_DIAGNOSTIC);
    cr_assert_not(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
}

/* message/rfc822 nested depth deep, the DSN in the innermost. */
static struct pb_buf *
nested_rfc822(size_t depth)
{
    struct pb_buf *b = msg_new(16u * 1024 * 1024);
    size_t i;

    put(b, "From: MAILER-DAEMON@example.net\nSubject: nested\n");
    for (i = 0; i < depth; i++)
        put(b, "Content-Type: message/rfc822\n\n");
    put(b, DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                    "Action: failed\n"
                    "Status: 5.1.1\n" DSN_TAIL);
    return b;
}

Test(dsn_hostile, rfc822_nested_100_deep)
{
    struct pb_buf *b = nested_rfc822(100);
    struct dsn_report r;

    parse(b->p, b->len, &r);
    cr_assert(r.is_truncated);
    cr_assert_eq(r.n, 0); /* the report lies past the depth limit */
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_hostile, rfc822_nested_100000_deep)
{
    /* libetpan's mailmime_parse() overflows its stack on this one */
    struct pb_buf *b = nested_rfc822(100000);
    struct dsn_report r;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    parse(b->p, b->len, &r);
    cr_assert(r.is_truncated);
    cr_assert_lt(seconds_since(&t0), 10.0);
    dsn_report_release(&r);
    msg_free(b);
}

/* A forwarded bounce: the walk reads one message/rfc822 level. */
Test(dsn_limits, depth_just_inside_the_limit)
{
    struct pb_buf *b = nested_rfc822(1);
    struct dsn_report r;

    parse(b->p, b->len, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_not(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
}

/* multipart/mixed nested n deep, a text part at the bottom. */
static struct pb_buf *
nested_multipart(size_t n)
{
    struct pb_buf *b = msg_new(16u * 1024 * 1024);
    size_t i;
    char line[128];

    put(b, "From: MAILER-DAEMON@example.net\n");
    for (i = 0; i < n; i++) {
        snprintf(line, sizeof(line),
                 "Content-Type: multipart/mixed; boundary=\"b%zu\"\n\n--b%zu\n",
                 i, i);
        put(b, line);
    }
    put(b, "Content-Type: text/plain\n\n<a@example.com>: 550 5.1.1 unknown\n");
    return b;
}

Test(dsn_limits, multipart_depth_at_and_over_the_limit)
{
    struct dsn_report r;
    struct pb_buf *b = nested_multipart(PB_LIMIT_DSN_MIME_DEPTH - 1);

    parse(b->p, b->len, &r);
    cr_assert_not(r.is_truncated);
    cr_assert_eq(r.n, 1);
    dsn_report_release(&r);
    msg_free(b);
    b = nested_multipart(PB_LIMIT_DSN_MIME_DEPTH);
    parse(b->p, b->len, &r);
    cr_assert(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_hostile, multipart_nested_10000_deep)
{
    struct pb_buf *b = nested_multipart(10000);
    struct dsn_report r;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    parse(b->p, b->len, &r);
    cr_assert(r.is_truncated);
    cr_assert_lt(seconds_since(&t0), 10.0);
    dsn_report_release(&r);
    msg_free(b);
}

/* A multipart with n parts (the top entity counts as one). */
static struct pb_buf *
many_parts(size_t n)
{
    struct pb_buf *b = msg_new(16u * 1024 * 1024);
    size_t i;

    put(b, "From: MAILER-DAEMON@example.net\n"
           "Content-Type: multipart/mixed; boundary=\"P\"\n\n");
    for (i = 0; i < n; i++)
        put(b, "--P\nContent-Type: text/plain\n\nx\n");
    put(b, "--P--\n");
    return b;
}

Test(dsn_limits, parts_at_and_over_the_limit)
{
    struct dsn_report r;
    struct pb_buf *b = many_parts(PB_LIMIT_DSN_PARTS - 1);

    parse(b->p, b->len, &r);
    cr_assert_not(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
    b = many_parts(PB_LIMIT_DSN_PARTS);
    parse(b->p, b->len, &r);
    cr_assert(r.is_truncated);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_hostile, hundred_thousand_parts)
{
    struct pb_buf *b = many_parts(100000);
    struct dsn_report r;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    parse(b->p, b->len, &r);
    cr_assert(r.is_truncated);
    cr_assert_lt(seconds_since(&t0), 10.0);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_hostile, truncated_boundary)
{
    /* the close delimiter missing, the message cut in a field */
    static const char m[] =
        DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                 "Action: failed\n"
                 "Status: 5.2.2\n"
                 "Diagnostic-Code: smtp; 552 5.2.2 Mailbox fu";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].status, "5.2.2");
    cr_assert_eq(r.v[0].reply_code, 552);
    dsn_report_release(&r);
}

Test(dsn_hostile, boundary_line_cut_short)
{
    static const char m[] =
        "From: MAILER-DAEMON@example.net\n"
        "Content-Type: multipart/report; boundary=\"LONGBOUNDARY\"\n"
        "\n"
        "--LONGBOUND";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.n, 0);
    dsn_report_release(&r);
}

Test(dsn_hostile, invalid_base64)
{
    static const char m[] =
        "From: MAILER-DAEMON@example.net\n"
        "Content-Type: multipart/report; report-type=delivery-status;"
        " boundary=\"B\"\n"
        "\n"
        "--B\n"
        "Content-Type: message/delivery-status\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "!!!*** not base64 at all ***===\x01\xff\n"
        "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7YUBleGFtcGxl\n"
        "--B--\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.kind, DSN_RFC3464);
    dsn_report_release(&r);
}

Test(dsn_parse, base64_delivery_status_decodes)
{
    /* "Final-Recipient: rfc822;a@example.com\nAction: failed\n
     *  Status: 5.1.1\n" in base64 */
    static const char m[] =
        "From: MAILER-DAEMON@example.net\n"
        "Content-Type: multipart/report; report-type=delivery-status;"
        " boundary=\"B\"\n"
        "\n"
        "--B\n"
        "Content-Type: message/delivery-status\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7YUBleGFtcGxlLmNvbQpBY3Rpb246IGZh\n"
        "aWxlZApTdGF0dXM6IDUuMS4xCg==\n"
        "--B--\n";
    struct dsn_report r;

    parse_str(m, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].address, "a@example.com");
    cr_assert_str_eq(r.v[0].status, "5.1.1");
    dsn_report_release(&r);
}

Test(dsn_hostile, nul_and_8bit_bytes)
{
    static const char m[] =
        DSN_HEAD "Final-Recipient: rfc822;a@example.com\n"
                 "Action: failed\n"
                 "Status: 5.7.1\n"
                 "Diagnostic-Code: smtp; 550 \0\xff\xfe r\xc3\xa9jet\xe9\n"
                 "\n" DSN_TAIL;
    struct dsn_report r;

    parse(m, sizeof(m) - 1, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.v[0].reply_code, 550);
    cr_assert_eq(r.v[0].diagnostic_len, 15);
    cr_assert_eq(
        memcmp(r.v[0].diagnostic, "550 \0\xff\xfe r\xc3\xa9jet\xe9", 15), 0);
    dsn_report_release(&r);
}

Test(dsn_hostile, garbage_is_no_bounce)
{
    char m[4096];
    struct dsn_report r;
    size_t i;
    unsigned s = 1;

    for (i = 0; i < sizeof(m); i++) {
        s = s * 1103515245u + 12345u;
        m[i] = (char)(s >> 16);
    }
    parse(m, sizeof(m), &r);
    dsn_report_release(&r);
}

Test(dsn_hostile, long_line_without_end)
{
    size_t n = 4u * 1024 * 1024, i;
    char *m = malloc(n);
    struct dsn_report r;

    cr_assert_not_null(m);
    memcpy(m, "Subject: x", 10);
    for (i = 10; i < n; i++)
        m[i] = i % 7 == 0 ? '@' : 'a';
    parse(m, n, &r);
    cr_assert(r.n <= PB_LIMIT_DSN_RECIPIENTS);
    dsn_report_release(&r);
    free(m);
}

Test(dsn_hostile, many_addresses_in_the_text_bounded)
{
    struct pb_buf *b = msg_new(8u * 1024 * 1024);
    struct dsn_report r;
    struct timespec t0;
    size_t i;

    put(b, "From: MAILER-DAEMON@example.net\n"
           "Subject: Undelivered Mail Returned to Sender\n\n");
    for (i = 0; i < 20000; i++) {
        char line[64];

        snprintf(line, sizeof(line), "<u%zu@example.com>:\n", i);
        put(b, line);
    }
    for (i = 0; i < 100000; i++)
        put(b, "no reply code here, only words and words\n");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    parse(b->p, b->len, &r);
    cr_assert_eq(r.n, PB_LIMIT_DSN_RECIPIENTS);
    cr_assert(r.is_truncated);
    cr_assert_lt(seconds_since(&t0), 10.0);
    dsn_report_release(&r);
    msg_free(b);
}

Test(dsn_parse, release_is_safe_twice_and_on_zeroed)
{
    struct dsn_report r;

    memset(&r, 0, sizeof(r));
    dsn_report_release(&r);
    dsn_report_release(NULL);
    parse_str(simple_dsn, &r);
    dsn_report_release(&r);
    dsn_report_release(&r);
}
