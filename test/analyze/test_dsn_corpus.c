/* SPDX-License-Identifier: MIT */
/*
 * The bounce parser against the vendored corpora.  test/data/bounces: all
 * 597 real bounces parse (as LF, CRLF and bare CR alike, to the same
 * report), and the recipient, enhanced status and reply code agree with
 * Sisimai 4.25.15's labels on at least 95% of the 636 label rows, counted
 * as docs/dsn.md says; the non-bounces yield no bounce.  test/data/dsn:
 * the fields of expected.json, RFC 3464 Appendix D, real DSNs and RFC 5965
 * feedback reports.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze.h"
#include "pb_err.h"
#include "testdata.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void
parse_file(const char *rel, struct dsn_report *r)
{
    struct pb_err err;
    size_t len;
    char *p = testdata_load(rel, &len);

    pb_err_clear(&err);
    cr_assert_eq(dsn_parse(p, len, r, &err), 0, "%s: %s", rel, err.msg);
    free(p);
}

/*
 * (p, len) with every line end (LF, CRLF or a bare CR: the corpus has
 * all three) made eol.
 */
static char *
with_eol(const char *p, size_t len, const char *eol, size_t *outlen)
{
    size_t i, o = 0, el = strlen(eol);
    char *s = malloc(len * el + 1);

    cr_assert_not_null(s);
    for (i = 0; i < len; i++) {
        if (p[i] == '\r' || p[i] == '\n') {
            if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
                i++;
            memcpy(s + o, eol, el);
            o += el;
        } else {
            s[o++] = p[i];
        }
    }
    s[o] = '\0';
    *outlen = o;
    return s;
}

static bool
str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool
mem_eq(const char *a, size_t an, const char *b, size_t bn)
{
    if (a == NULL || b == NULL)
        return a == b;
    return an == bn && memcmp(a, b, an) == 0;
}

/* Two reports of one message read with different line ends agree. */
static void
assert_same_report(const char *name, const struct dsn_report *a,
                   const struct dsn_report *b)
{
    size_t i;

    cr_assert_eq(a->kind, b->kind, "%s: kind", name);
    cr_assert_eq(a->n, b->n, "%s: recipients %zu vs %zu", name, a->n, b->n);
    cr_assert(str_eq(a->mta, b->mta), "%s: mta", name);
    cr_assert(str_eq(a->original_message_id, b->original_message_id),
              "%s: message-id", name);
    for (i = 0; i < a->n; i++) {
        const struct dsn_recipient *x = &a->v[i], *y = &b->v[i];

        cr_assert(str_eq(x->address, y->address), "%s: address %zu", name, i);
        cr_assert_str_eq(x->status, y->status, "%s: status of %s", name,
                         x->address);
        cr_assert_eq(x->reply_code, y->reply_code, "%s: reply of %s", name,
                     x->address);
        cr_assert_eq(x->stage, y->stage, "%s: stage of %s", name, x->address);
        cr_assert(mem_eq(x->diagnostic, x->diagnostic_len, y->diagnostic,
                         y->diagnostic_len),
                  "%s: diagnostic of %s", name, x->address);
    }
}

/* ------------------------------------------------------------------ */
/* test/data/bounces                                                   */

Test(dsn_corpus, every_bounce_parses_alike_with_any_line_end)
{
    DIR *d = opendir(testdata_path("bounces/eml"));
    struct dirent *e;
    size_t files = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        static const char *const eols[] = {"\r\n", "\r", "\n"};
        struct dsn_report lf, other;
        struct pb_err err;
        char rel[300];
        size_t len, k;
        char *p;

        if (strstr(e->d_name, ".eml") == NULL)
            continue;
        snprintf(rel, sizeof(rel), "bounces/eml/%s", e->d_name);
        p = testdata_load(rel, &len);
        cr_assert_eq(dsn_parse(p, len, &lf, &err), 0, "%s", rel);
        for (k = 0; k < 3; k++) {
            size_t n;
            char *q = with_eol(p, len, eols[k], &n);

            cr_assert_eq(dsn_parse(q, n, &other, &err), 0, "%s", rel);
            assert_same_report(rel, &lf, &other);
            dsn_report_release(&other);
            free(q);
        }
        dsn_report_release(&lf);
        free(p);
        files++;
    }
    closedir(d);
    cr_assert_eq(files, 597, "bounces/eml holds %zu messages", files);
}

/* One row of labels.tsv. */
struct label {
    char *file, *recipient, *reason, *status, *reply, *command;
};

/*
 * Sisimai's own codes X.0.9NN (Sisimai::SMTP::Status "pseudo status
 * codes"): its reason for a message that carried no status code, not a
 * code found in the message.  They match our "" (docs/dsn.md).
 */
static bool
is_pseudo_status(const char *s)
{
    return strlen(s) == 7 && s[1] == '.' && s[2] == '0' && s[3] == '.' &&
           s[4] == '9';
}

static bool
stage_matches(const char *cmd, enum pb_stage s)
{
    if (strcmp(cmd, "RCPT") == 0)
        return s == PB_STAGE_RCPT;
    if (strcmp(cmd, "DATA") == 0)
        return s == PB_STAGE_DATA;
    if (strcmp(cmd, "MAIL") == 0)
        return s == PB_STAGE_MAIL;
    /* the greeting refused: Sisimai says HELO or CONN */
    if (strcmp(cmd, "HELO") == 0 || strcmp(cmd, "EHLO") == 0)
        return s == PB_STAGE_EHLO || s == PB_STAGE_GREETING;
    if (strcmp(cmd, "CONN") == 0)
        return s == PB_STAGE_CONNECT || s == PB_STAGE_GREETING;
    return false;
}

static char *
field(char **cursor)
{
    char *s = *cursor, *tab = strchr(s, '\t');

    if (tab != NULL) {
        *tab = '\0';
        *cursor = tab + 1;
    } else {
        *cursor = s + strlen(s);
    }
    return s;
}

Test(dsn_corpus, agrees_with_sisimai_labels)
{
    size_t len, nrows = 0, i;
    char *text = testdata_load("bounces/labels.tsv", &len), *line, *save = NULL;
    struct label *rows = calloc(700, sizeof(*rows));
    size_t ok_rcpt = 0, ok_status = 0, ok_strict = 0, has_reply = 0,
           ok_reply = 0, has_cmd = 0, ok_cmd = 0, ok_all = 0, ours = 0,
           extra = 0;
    struct dsn_report r;
    const char *parsed = NULL;

    cr_assert_not_null(rows);
    line = strtok_r(text, "\n", &save); /* the header line */
    cr_assert_not_null(line);
    while ((line = strtok_r(NULL, "\n", &save)) != NULL && nrows < 700) {
        struct label *l = &rows[nrows++];

        l->file = field(&line);
        l->recipient = field(&line);
        l->reason = field(&line);
        l->status = field(&line);
        l->reply = field(&line);
        l->command = field(&line);
    }
    cr_assert_eq(nrows, 636, "labels.tsv has %zu rows", nrows);
    memset(&r, 0, sizeof(r));
    for (i = 0; i < nrows; i++) {
        const struct label *l = &rows[i];
        const struct dsn_recipient *x = NULL;
        bool rcpt_ok, status_ok, reply_ok;
        size_t k;

        /* rows of one file are adjacent: parse it once */
        if (parsed == NULL || strcmp(parsed, l->file) != 0) {
            char rel[300];
            size_t j;

            dsn_report_release(&r);
            snprintf(rel, sizeof(rel), "bounces/eml/%s", l->file);
            parse_file(rel, &r);
            parsed = l->file;
            /* recipients we report that no label row of the file has */
            for (k = 0; k < r.n; k++) {
                bool labelled = false;

                for (j = i; j < nrows && strcmp(rows[j].file, l->file) == 0;
                     j++)
                    labelled |=
                        strcasecmp(rows[j].recipient, r.v[k].address) == 0;
                ours++;
                extra += !labelled;
            }
        }
        for (k = 0; k < r.n && x == NULL; k++)
            if (strcasecmp(r.v[k].address, l->recipient) == 0)
                x = &r.v[k];
        /*
         * docs/dsn.md: the recipient compared case-insensitively; the
         * status exactly (an empty label wants our "", a Sisimai pseudo
         * code too); the reply code where the label has one; the stage
         * only counted.
         */
        rcpt_ok = x != NULL;
        status_ok = x != NULL &&
                    (strcmp(x->status, l->status) == 0 ||
                     (is_pseudo_status(l->status) && x->status[0] == '\0'));
        reply_ok = l->reply[0] == '\0' ||
                   (x != NULL && x->reply_code == atoi(l->reply));
        ok_rcpt += rcpt_ok;
        ok_status += status_ok;
        ok_strict += x != NULL && strcmp(x->status, l->status) == 0;
        if (l->reply[0] != '\0') {
            has_reply++;
            ok_reply += reply_ok;
        }
        if (l->command[0] != '\0') {
            has_cmd++;
            ok_cmd += x != NULL && stage_matches(l->command, x->stage);
        }
        ok_all += rcpt_ok && status_ok && reply_ok;
    }
    dsn_report_release(&r);
    fprintf(stderr,
            "dsn corpus: %zu rows; recipient %zu (%.1f%%), status %zu "
            "(%.1f%%; %zu = %.1f%% counting Sisimai's pseudo codes as "
            "codes), reply code %zu of %zu (%.1f%%), stage %zu of %zu "
            "(%.1f%%); all three %zu (%.1f%%); %zu of our %zu recipients "
            "have no label row\n",
            nrows, ok_rcpt, 100.0 * ok_rcpt / nrows, ok_status,
            100.0 * ok_status / nrows, ok_strict, 100.0 * ok_strict / nrows,
            ok_reply, has_reply, 100.0 * ok_reply / has_reply, ok_cmd, has_cmd,
            100.0 * ok_cmd / has_cmd, ok_all, 100.0 * ok_all / nrows, extra,
            ours);
    cr_assert_geq(ok_all * 100, nrows * 95,
                  "recipient, status and reply code agree on %zu of %zu "
                  "rows, under 95%%",
                  ok_all, nrows);
    free(rows);
    free(text);
}

Test(dsn_corpus, ordinary_messages_are_no_bounce)
{
    static const char *const files[] = {
        "bounces/not-bounce/is-not-bounce-01.eml",
        "bounces/not-bounce/is-not-bounce-02.eml",
    };
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct dsn_report r;

        parse_file(files[i], &r);
        cr_assert_eq(r.kind, DSN_NOT_BOUNCE, "%s: %s", files[i],
                     dsn_kind_name(r.kind));
        cr_assert_eq(r.n, 0);
        dsn_report_release(&r);
    }
}

/*
 * not-bounce/rb-issue-368-bug.eml is in set-of-emails' maildir/not/
 * because Sisimai reports nothing for it, but it is a bounce: Return-Path
 * <>, From postmaster, "an email you sent was rejected ... reject reason:
 * Mailbox full, target mail address: ...".  We report it as one
 * (docs/dsn.md).
 */
Test(dsn_corpus, sisimai_issue_368_is_a_bounce)
{
    struct dsn_report r;

    parse_file("bounces/not-bounce/rb-issue-368-bug.eml", &r);
    cr_assert_eq(r.kind, DSN_NONSTANDARD, "%s", dsn_kind_name(r.kind));
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].address, "xxxx@yyyyyy.net");
    cr_assert_str_eq(r.original_message_id,
                     "<68e0b7e3615cd_1dc7010592ed@7cf4d87f87-9r5w2.mail>");
    dsn_report_release(&r);
}

/* ------------------------------------------------------------------ */
/* test/data/dsn/expected.json                                          */

static const char *
json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "type; value" split, both trimmed, into static buffers. */
static void
split_typed(const char *s, char *type, size_t tsize, char *value, size_t vsize)
{
    const char *semi = strchr(s, ';'), *v;
    size_t n;

    cr_assert_not_null(semi, "no type in \"%s\"", s);
    n = (size_t)(semi - s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    cr_assert_lt(n, tsize);
    memcpy(type, s, n);
    type[n] = '\0';
    for (v = semi + 1; *v == ' '; v++)
        ;
    snprintf(value, vsize, "%s", v);
}

/* The address as the report keeps it: no angle brackets. */
static void
bare_address(const char *s, char *out, size_t size)
{
    size_t n;

    if (*s == '<')
        s++;
    n = strnlen(s, size - 1);
    memcpy(out, s, n);
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '>')
        out[n - 1] = '\0';
}

static void
check_recipient(const char *file, const cJSON *want,
                const struct dsn_recipient *x)
{
    char type[64], value[1024], addr[300];
    const char *s;

    s = json_str(want, "Final-Recipient");
    cr_assert_not_null(s);
    split_typed(s, type, sizeof(type), value, sizeof(value));
    bare_address(value, addr, sizeof(addr));
    cr_assert_str_eq(x->address, addr, "%s", file);
    cr_assert_not_null(x->address_type, "%s", file);
    cr_assert_eq(strcasecmp(x->address_type, type), 0, "%s: %s vs %s", file,
                 x->address_type, type);
    s = json_str(want, "Original-Recipient");
    if (s != NULL) {
        split_typed(s, type, sizeof(type), value, sizeof(value));
        bare_address(value, addr, sizeof(addr));
        cr_assert_not_null(x->original_recipient, "%s", file);
        cr_assert_str_eq(x->original_recipient, addr, "%s", file);
    } else {
        cr_assert_null(x->original_recipient, "%s", file);
    }
    s = json_str(want, "Action");
    cr_assert_str_eq(x->action, s, "%s", file);
    s = json_str(want, "Status");
    cr_assert_not_null(s);
    cr_assert_eq(strncmp(x->dsn_status, s, strlen(x->dsn_status)), 0,
                 "%s: Status %s vs %s", file, x->dsn_status, s);
    cr_assert_neq(x->dsn_status[0], '\0', "%s", file);
    s = json_str(want, "Remote-MTA");
    if (s != NULL) {
        split_typed(s, type, sizeof(type), value, sizeof(value));
        cr_assert_not_null(x->remote_mta, "%s", file);
        cr_assert_str_eq(x->remote_mta, value, "%s", file);
    } else {
        cr_assert_null(x->remote_mta, "%s", file);
    }
    s = json_str(want, "Diagnostic-Code");
    if (s != NULL) {
        split_typed(s, type, sizeof(type), value, sizeof(value));
        cr_assert_not_null(x->diagnostic, "%s", file);
        cr_assert_str_eq(x->diagnostic, value, "%s", file);
        cr_assert_eq(x->diagnostic_len, strlen(value));
        cr_assert_str_eq(x->diagnostic_type, type, "%s", file);
    } else {
        cr_assert_null(x->diagnostic, "%s", file);
    }
    s = json_str(want, "Last-Attempt-Date");
    if (s != NULL)
        cr_assert_str_eq(x->last_attempt_date, s, "%s", file);
    else
        cr_assert_null(x->last_attempt_date, "%s", file);
}

/* What Sisimai reports, as our status and reply code say it. */
static void
check_sisimai(const char *file, const cJSON *list, const struct dsn_report *r)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, list)
    {
        const char *rcpt = json_str(e, "recipient");
        const char *status = json_str(e, "deliverystatus");
        const char *reply = json_str(e, "replycode");
        const struct dsn_recipient *x = NULL;
        size_t k;

        for (k = 0; k < r->n; k++)
            if (strcasecmp(r->v[k].address, rcpt) == 0)
                x = &r->v[k];
        if (strstr(rcpt, "libsisimai.org.invalid") != NULL) {
            /* Sisimai's stand-in when a report names nobody */
            cr_assert_eq(r->n, 0, "%s", file);
            continue;
        }
        cr_assert_not_null(x, "%s: no %s", file, rcpt);
        cr_assert_str_eq(x->status, status, "%s: %s", file, rcpt);
        if (reply[0] != '\0')
            cr_assert_eq(x->reply_code, atoi(reply), "%s: %s", file, rcpt);
    }
}

Test(dsn_expected, every_file_as_expected_json_says)
{
    size_t len, nfiles = 0;
    char *text = testdata_load("dsn/expected.json", &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *e;

    cr_assert(cJSON_IsArray(root));
    cJSON_ArrayForEach(e, root)
    {
        const char *file = json_str(e, "file");
        const char *rt = json_str(e, "report_type");
        const cJSON *per = cJSON_GetObjectItemCaseSensitive(e, "per_recipient");
        const cJSON *pm = cJSON_GetObjectItemCaseSensitive(e, "per_message");
        const cJSON *fb =
            cJSON_GetObjectItemCaseSensitive(e, "feedback_report");
        struct dsn_report r;
        char rel[300], type[64], value[1024];
        size_t i = 0;
        const cJSON *w;

        snprintf(rel, sizeof(rel), "dsn/%s", file);
        parse_file(rel, &r);
        nfiles++;
        if (strcmp(rt, "delivery-status") == 0) {
            cr_assert_eq(r.kind, DSN_RFC3464, "%s: %s", file,
                         dsn_kind_name(r.kind));
            cr_assert_eq(r.n, (size_t)cJSON_GetArraySize(per), "%s: %zu", file,
                         r.n);
            split_typed(json_str(pm, "Reporting-MTA"), type, sizeof(type),
                        value, sizeof(value));
            cr_assert_str_eq(r.reporting_mta, value, "%s", file);
            cJSON_ArrayForEach(w, per) check_recipient(file, w, &r.v[i++]);
        } else {
            const char *ft = json_str(fb, "Feedback-Type");

            cr_assert_eq(r.kind, DSN_FEEDBACK, "%s: %s", file,
                         dsn_kind_name(r.kind));
            cr_assert_str_eq(r.feedback_type, ft, "%s", file);
            if (json_str(fb, "Reporting-MTA") != NULL) {
                split_typed(json_str(fb, "Reporting-MTA"), type, sizeof(type),
                            value, sizeof(value));
                cr_assert_str_eq(r.reporting_mta, value, "%s", file);
            }
        }
        check_sisimai(
            file, cJSON_GetObjectItemCaseSensitive(e, "sisimai_4_25_15"), &r);
        dsn_report_release(&r);
    }
    cr_assert_eq(nfiles, 8);
    cJSON_Delete(root);
    free(text);
}

/* The details expected.json does not spell out. */
Test(dsn_expected, realworld_outlook_status_from_the_remote_reply)
{
    struct dsn_report r;

    parse_file("dsn/realworld-ndr-outlook.eml", &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].address, "redacted@example.com");
    cr_assert_str_eq(r.v[0].dsn_status, "5.0.0");
    cr_assert_str_eq(r.v[0].status, "5.4.1"); /* the remote's own code */
    cr_assert_eq(r.v[0].reply_code, 550);
    cr_assert(r.v[0].is_permanent);
    dsn_report_release(&r);
}

Test(dsn_expected, gatewayed_recipient_keeps_its_type)
{
    struct dsn_report r;

    parse_file("dsn/rfc3464-d3-gatewayed.eml", &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].address, "nair_s");
    cr_assert_str_eq(r.v[0].address_type, "unknown");
    cr_assert_str_eq(r.v[0].status, "5.0.0");
    cr_assert_str_eq(r.reporting_mta, "SYS30");
    dsn_report_release(&r);
}

Test(dsn_expected, delayed_is_not_permanent)
{
    struct dsn_report r;

    parse_file("dsn/rfc3464-d4-delayed.eml", &r);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.v[0].action, "delayed");
    cr_assert_not(r.v[0].is_permanent);
    dsn_report_release(&r);
}
