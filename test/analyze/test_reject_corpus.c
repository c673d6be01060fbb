/* SPDX-License-Identifier: MIT */
/*
 * Agreement with Sisimai over real bounces: every row of
 * test/data/bounces/labels.tsv (597 messages of sisimai/set-of-emails with
 * Sisimai 4.25's verdict) is parsed with dsn_parse(), its recipient found,
 * and the refusal classified with profiles/rules.  Sisimai's reason agrees
 * when our category is in the set docs/rules.md ("Agreement with Sisimai")
 * maps it to; the rate must be at least 90%.  Feedback reports, auto-replies
 * and delivery notices are not refusals and are counted apart.  Every
 * disagreement is printed, and listed with its reason in docs/rules.md.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze.h"
#include "pb_buf.h"
#include "testdata.h"

#define MIN_AGREEMENT 90.0

/* docs/rules.md, "Agreement with Sisimai": the categories that agree. */
static const struct {
    const char *reason;
    const char *agree[8];
} mapping[] = {
    {"userunknown", {"recipient-unknown"}},
    {"hostunknown", {"recipient-unknown"}},
    {"hasmoved", {"recipient-unknown"}},
    {"notaccept", {"recipient-unknown"}},
    {"mailboxfull", {"mailbox-full"}},
    {"suspend", {"mailbox-disabled"}},
    {"mesgtoobig", {"message-size"}},
    {"exceedlimit", {"message-size"}},
    {"norelaying", {"relay-denied"}},
    {"toomanyconn", {"rate-limit"}},
    {"blocked",
     {"blocklist", "ptr", "reputation", "spf", "dkim", "dmarc",
      "auth-multiple"}},
    {"spamdetected", {"content", "reputation"}},
    {"virusdetected", {"content"}},
    {"contenterror", {"content"}},
    {"filtered", {"content", "recipient-unknown", "mailbox-disabled"}},
    {"rejected", {"dns-sender", "blocklist", "relay-denied", "policy-other"}},
    {"policyviolation",
     {"policy-other", "content", "spf", "dkim", "dmarc", "auth-multiple"}},
    {"securityerror",
     {"smtp-auth", "tls-required", "spf", "dkim", "dmarc", "auth-multiple"}},
    {"systemerror", {"policy-other"}},
    {"systemfull", {"mailbox-full", "policy-other"}},
    {"mailererror", {"policy-other"}},
    {"networkerror", {"policy-other", "recipient-unknown"}},
    {"expired", {"policy-other"}},
    {"onhold", {"policy-other"}},
    {"undefined", {"policy-other"}},
    {"syntaxerror", {"policy-other"}},
};

/* Not refusals: counted apart, never in the rate. */
static bool
is_not_refusal(const char *reason)
{
    return strcmp(reason, "feedback") == 0 || strcmp(reason, "vacation") == 0 ||
           strcmp(reason, "delivered") == 0;
}

/* 1 agrees, 0 does not, -1 a reason the mapping does not know. */
static int
agrees(const char *reason, enum reject_category c)
{
    size_t i, k;

    for (i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++) {
        if (strcmp(mapping[i].reason, reason) != 0)
            continue;
        for (k = 0; k < 8 && mapping[i].agree[k] != NULL; k++)
            if (strcmp(mapping[i].agree[k], reject_category_name(c)) == 0)
                return 1;
        return 0;
    }
    return -1;
}

static struct dsn_recipient *
find_recipient(struct dsn_report *r, const char *address)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (r->v[i].address != NULL &&
            strcasecmp(r->v[i].address, address) == 0)
            return &r->v[i];
    /* one recipient whose address the bounce spells otherwise */
    return r->n == 1 ? &r->v[0] : NULL;
}

/* The first 160 octets of s on one line, for the listing. */
static const char *
excerpt(const char *s, size_t len)
{
    static char buf[200];

    if (s == NULL)
        return "";
    pb_escape_to(buf, 161, s, len > 160 ? 160 : len);
    return buf;
}

Test(reject_corpus, agrees_with_sisimai_on_nine_in_ten_refusals)
{
    struct reject_rules *rules = NULL;
    struct pb_err err;
    char rules_dir[4096], path[4096], *labels, *line, *save = NULL;
    size_t total = 0, agreed = 0, not_refusals = 0, not_refusals_ok = 0;
    double rate;

    snprintf(rules_dir, sizeof(rules_dir), "%s/../../profiles/rules",
             PB_TEST_DATA);
    cr_assert_eq(reject_rules_load(rules_dir, &rules, &err), 0, "%s", err.msg);
    labels = testdata_read(testdata_path("bounces/labels.tsv"), NULL);
    cr_assert_not_null(labels, "test/data/bounces/labels.tsv: the corpus of "
                               "shared/corpora/bounces is not vendored");

    for (line = strtok_r(labels, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[6] = {0}, *p = line, *msg;
        struct dsn_report rep;
        struct dsn_recipient *rcpt;
        struct reject_input in = {0};
        struct reject_verdict v;
        size_t k, len;
        int a;

        if (strncmp(line, "file\t", 5) == 0)
            continue;
        for (k = 0; k < 6; k++) {
            f[k] = p;
            p = p != NULL ? strchr(p, '\t') : NULL;
            if (p != NULL)
                *p++ = '\0';
        }
        for (k = 0; k < 6; k++)
            if (f[k] == NULL)
                f[k] = "";
        snprintf(path, sizeof(path), "bounces/eml/%s", f[0]);
        msg = testdata_read(testdata_path(path), &len);
        cr_assert_not_null(msg, "%s", path);
        memset(&rep, 0, sizeof(rep));
        if (dsn_parse(msg, len, &rep, &err) == -1)
            rep.n = 0;
        rcpt = find_recipient(&rep, f[1]);

        if (is_not_refusal(f[2])) {
            not_refusals++;
            if (rep.kind == DSN_FEEDBACK || rep.kind == DSN_AUTOREPLY ||
                rep.kind == DSN_NOT_BOUNCE ||
                (rcpt != NULL && rcpt->action != NULL &&
                 strcmp(rcpt->action, "failed") != 0 &&
                 strcmp(rcpt->action, "delayed") != 0))
                not_refusals_ok++;
            else
                fprintf(stderr, "not a refusal, but read as one: %s %s\n", f[0],
                        f[2]);
            goto next;
        }
        total++;
        if (rcpt == NULL) {
            fprintf(stderr,
                    "DISAGREE %s <%s> sisimai=%s ours=(no such "
                    "recipient found)\n",
                    f[0], f[1], f[2]);
            goto next;
        }
        in.stage = rcpt->stage;
        in.code = rcpt->reply_code;
        in.status = rcpt->status[0] != '\0' ? rcpt->status : NULL;
        in.text = rcpt->diagnostic;
        in.text_len = rcpt->diagnostic_len;
        in.host = rcpt->remote_mta;
        reject_classify(rules, &in, &v);
        a = agrees(f[2], v.category);
        cr_assert_neq(a, -1, "%s: Sisimai reason %s is not in the mapping",
                      f[0], f[2]);
        if (a == 1) {
            agreed++;
        } else {
            fprintf(stderr,
                    "DISAGREE %s <%s> sisimai=%s ours=%s rule=%s status=%s "
                    "text=\"%s\"\n",
                    f[0], f[1], f[2], reject_category_name(v.category),
                    v.rule[0] ? v.rule : "(none)", rcpt->status,
                    excerpt(rcpt->diagnostic, rcpt->diagnostic_len));
        }
    next:
        dsn_report_release(&rep);
        free(msg);
    }
    free(labels);
    reject_rules_free(rules);

    cr_assert_gt(total, 500);
    rate = 100.0 * (double)agreed / (double)total;
    fprintf(stderr,
            "Sisimai agreement: %zu of %zu refusals (%.1f%%); not refusals "
            "(feedback, vacation, delivered) read as such: %zu of %zu\n",
            agreed, total, rate, not_refusals_ok, not_refusals);
    cr_assert_geq(rate, MIN_AGREEMENT, "agreement %.1f%% is under %.0f%%", rate,
                  MIN_AGREEMENT);
}
