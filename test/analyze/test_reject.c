/* SPDX-License-Identifier: MIT */
/*
 * Rejection rules (analyze/reject.c): the category names of PRODUCT.md,
 * rule files refused with their JSON path (unknown keys, bad categories,
 * bad regular expressions, ...), the specificity order (the same 5.7.30
 * from Microsoft at AUTH and from anyone else), texts unfolded and bounded,
 * hostile input, and the provider table test/data/reject/replies.tsv: real
 * replies from public sources, each classified by profiles/rules.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze.h"
#include "pb_limits.h"
#include "testdata.h"

/* profiles/rules of the source tree, from test/data. */
static const char *
rules_dir(void)
{
    static char dir[4096];

    snprintf(dir, sizeof(dir), "%s/../../profiles/rules", PB_TEST_DATA);
    return dir;
}

static struct reject_rules *shipped;

static void
load_shipped(void)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(reject_rules_load(rules_dir(), &shipped, &err), 0, "%s",
                 err.msg);
}

static void
free_shipped(void)
{
    reject_rules_free(shipped);
    shipped = NULL;
}

/* Classify with the shipped rules. */
static struct reject_verdict
judge(enum pb_stage stage, int code, const char *status, const char *host,
      const char *text)
{
    struct reject_input in = {0};
    struct reject_verdict v;

    in.stage = stage;
    in.code = code;
    in.status = status;
    in.host = host;
    in.text = text;
    in.text_len = text != NULL ? strlen(text) : 0;
    reject_classify(shipped, &in, &v);
    return v;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

Test(reject_names, are_exactly_those_of_product_md)
{
    static const char *const names[] = {
        "spf",
        "dkim",
        "dmarc",
        "auth-multiple",
        "relay-denied",
        "smtp-auth",
        "ptr",
        "blocklist",
        "reputation",
        "content",
        "rate-limit",
        "tls-required",
        "recipient-unknown",
        "mailbox-full",
        "mailbox-disabled",
        "message-size",
        "dns-sender",
        "policy-other",
    };
    size_t i;

    cr_assert_eq(sizeof(names) / sizeof(names[0]), REJECT_CATEGORY_COUNT);
    for (i = 0; i < REJECT_CATEGORY_COUNT; i++) {
        cr_assert_str_eq(reject_category_name((enum reject_category)i),
                         names[i]);
        cr_assert_eq(reject_category_parse(names[i]), (int)i);
    }
    cr_assert_eq(reject_category_parse("SPF"), -1);
    cr_assert_eq(reject_category_parse("authfailure"), -1);
    cr_assert_str_eq(reject_category_name(REJECT_CATEGORY_COUNT), "unknown");
    cr_assert_str_eq(reject_confidence_name(REJECT_CONF_LOW), "low");
    cr_assert_str_eq(reject_confidence_name(REJECT_CONF_MEDIUM), "medium");
    cr_assert_str_eq(reject_confidence_name(REJECT_CONF_HIGH), "high");
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */

/* Add one file; return its error message ("" on success). */
static const char *
add_err(struct reject_rules **set, const char *json)
{
    static struct pb_err err;

    pb_err_clear(&err);
    if (reject_rules_add(set, "t.json", json, strlen(json), &err) == 0)
        return "";
    cr_assert_eq(err.stage, PB_STAGE_CONFIG);
    return err.msg;
}

static const char *
load_err(const char *json)
{
    struct reject_rules *set = NULL;
    const char *msg = add_err(&set, json);

    if (msg[0] != '\0')
        cr_assert_null(set, "a failed first file leaves no set");
    reject_rules_free(set);
    return msg;
}

#define RULE_OK                                                         \
    "\"id\": \"r1\", \"category\": \"spf\", \"confidence\": \"high\", " \
    "\"explanation\": \"e\", \"remedy\": \"r\""

Test(reject_rules_add, accepts_a_minimal_file)
{
    struct reject_rules *set = NULL;

    cr_assert_str_eq(add_err(&set, "{\"rules\": [{" RULE_OK "}]}"), "");
    cr_assert_eq(reject_rules_count(set), 1);
    reject_rules_free(set);
    reject_rules_free(NULL);
    cr_assert_eq(reject_rules_count(NULL), 0);
}

Test(reject_rules_add, refuses_unknown_keys_with_their_path)
{
    cr_assert_str_eq(load_err("{\"rulez\": []}"),
                     "t.json: $.rulez: unknown key (a rule file has "
                     "description, sources, providers, rules)");
    cr_assert_str_eq(load_err("{\"rules\": [{" RULE_OK ", \"txet\": \"x\"}]}"),
                     "t.json: $.rules[0].txet: unknown key (docs/rules.md "
                     "lists the keys of a rule)");
    cr_assert_str_eq(
        load_err("{\"providers\": [{\"name\": \"p\", \"hots\": \"x\"}]}"),
        "t.json: $.providers[0].hots: unknown key (a provider has name, "
        "host, text, description, source)");
}

Test(reject_rules_add, refuses_duplicate_keys)
{
    cr_assert_str_eq(
        load_err("{\"rules\": [{" RULE_OK ", \"category\": \"dkim\"}]}"),
        "t.json: $.rules[0].category: duplicate key");
    cr_assert_str_eq(load_err("{\"rules\": [], \"rules\": []}"),
                     "t.json: $.rules: duplicate key");
}

Test(reject_rules_add, refuses_a_bad_category)
{
    cr_assert_str_eq(
        load_err("{\"rules\": [{\"id\": \"a\", \"category\": \"authfailure\", "
                 "\"confidence\": \"low\", \"explanation\": \"e\", "
                 "\"remedy\": \"r\"}]}"),
        "t.json: $.rules[0].category: not a rejection category (PRODUCT.md: "
        "spf, dkim, dmarc, auth-multiple, ..., policy-other)");
}

Test(reject_rules_add, refuses_a_bad_regex_with_its_path)
{
    static const char want[] =
        "t.json: $.rules[0].text[1]: not a valid regular expression: ";
    const char *msg =
        load_err("{\"rules\": [{" RULE_OK ", \"text\": [\"ok\", \"(a\"]}]}");

    cr_assert(strncmp(msg, want, sizeof(want) - 1) == 0, "%s", msg);
    cr_assert_gt(strlen(msg), sizeof(want) - 1, "regerror()'s reason");
    msg = load_err("{\"providers\": [{\"name\": \"p\", \"host\": \"[z-a]\"}]}");
    cr_assert(strstr(msg, "t.json: $.providers[0].host: not a valid regular "
                          "expression") == msg,
              "%s", msg);
}

Test(reject_rules_add, refuses_bad_conditions)
{
    cr_assert(
        strstr(load_err("{\"rules\": [{" RULE_OK ", \"stage\": \"helo\"}]}"),
               "$.rules[0].stage: not an SMTP stage") != NULL);
    cr_assert(strstr(load_err("{\"rules\": [{" RULE_OK
                              ", \"code\": [\"550\", \"5x0\"]}]}"),
                     "$.rules[0].code[1]: a reply code is three digits") !=
              NULL);
    cr_assert(strstr(load_err("{\"rules\": [{" RULE_OK ", \"code\": 600}]}"),
                     "$.rules[0].code: a reply code is an integer") != NULL);
    cr_assert(
        strstr(load_err("{\"rules\": [{" RULE_OK ", \"status\": \"5.7\"}]}"),
               "$.rules[0].status: an enhanced status is") != NULL);
    cr_assert(
        strstr(load_err("{\"rules\": [{" RULE_OK ", \"status\": \"3.1.1\"}]}"),
               "$.rules[0].status: an enhanced status is") != NULL);
    cr_assert(
        strstr(load_err("{\"rules\": [{" RULE_OK ", \"status\": \"5.x.1\"}]}"),
               "$.rules[0].status: an enhanced status is") != NULL);
    cr_assert(strstr(load_err("{\"rules\": [{" RULE_OK
                              ", \"status\": \"5.1000.1\"}]}"),
                     "$.rules[0].status: an enhanced status is") != NULL);
    cr_assert(strstr(load_err("{\"rules\": [{" RULE_OK ", \"text\": []}]}"),
                     "$.rules[0].text: an empty array matches nothing") !=
              NULL);
    cr_assert(strstr(load_err("{\"rules\": [{" RULE_OK ", \"text\": 5}]}"),
                     "$.rules[0].text: expected a string or an array") != NULL);
    cr_assert(strstr(load_err("{\"rules\": [{" RULE_OK
                              ", \"confidence\": \"sure\"}]}"),
                     "duplicate key") != NULL);
    cr_assert(strstr(load_err("{\"rules\": [{\"id\": \"a\", \"category\": "
                              "\"spf\", \"confidence\": \"sure\", "
                              "\"explanation\": \"e\", \"remedy\": \"r\"}]}"),
                     "$.rules[0].confidence: expected low, medium or high") !=
              NULL);
}

Test(reject_rules_add, refuses_missing_and_bad_values)
{
    cr_assert_str_eq(load_err("{\"rules\": [{\"id\": \"a\", \"category\": "
                              "\"spf\", \"confidence\": \"low\", "
                              "\"explanation\": \"e\"}]}"),
                     "t.json: $.rules[0]: missing key remedy");
    cr_assert_str_eq(load_err("{\"rules\": [{" RULE_OK "}, {" RULE_OK "}]}"),
                     "t.json: $.rules[1].id: rule id r1 is used twice");
    cr_assert_str_eq(load_err("{\"rules\": [{\"id\": \"A b\", \"category\": "
                              "\"spf\", \"confidence\": \"low\", "
                              "\"explanation\": \"e\", \"remedy\": \"r\"}]}"),
                     "t.json: $.rules[0].id: a rule id is "
                     "[a-z0-9][a-z0-9._-]*");
    cr_assert_str_eq(
        load_err("{\"rules\": [{" RULE_OK ", \"provider\": \"nobody\"}]}"),
        "t.json: $.rules[0].provider: unknown provider (declare "
        "it under \"providers\" in this file or an earlier one)");
    cr_assert_str_eq(load_err("{\"rules\": [{\"id\": \"a\", \"category\": "
                              "\"spf\", \"confidence\": \"low\", "
                              "\"explanation\": \"a\\u0007b\", \"remedy\": "
                              "\"r\"}]}"),
                     "t.json: $.rules[0].explanation: the string holds a "
                     "control character");
    cr_assert_str_eq(load_err("{\"providers\": [{\"name\": \"p\"}]}"),
                     "t.json: $.providers[0]: a provider needs host or text "
                     "patterns to be recognised by");
    cr_assert_str_eq(load_err("{\"rules\": {}}"),
                     "t.json: $.rules: expected an array of rules");
    cr_assert_str_eq(load_err("[]"),
                     "t.json: $: expected an object (description, sources, "
                     "providers, rules)");
}

Test(reject_rules_add, refuses_what_is_over_a_limit)
{
    char *big = malloc(PB_LIMIT_REJECT_PATTERN + 200);
    struct pb_err err;
    struct reject_rules *set = NULL;
    int n;

    n = snprintf(big, 200, "{\"rules\": [{" RULE_OK ", \"text\": \"");
    memset(big + n, 'a', PB_LIMIT_REJECT_PATTERN + 1);
    strcpy(big + n + PB_LIMIT_REJECT_PATTERN + 1, "\"}]}");
    cr_assert(strstr(load_err(big), "$.rules[0].text: longer than 1024 "
                                    "octets") != NULL);
    /* exactly at the limit is fine */
    strcpy(big + n + PB_LIMIT_REJECT_PATTERN, "\"}]}");
    cr_assert_str_eq(load_err(big), "");
    free(big);

    cr_assert_eq(reject_rules_add(&set, "big.json", "{}",
                                  PB_LIMIT_REJECT_FILE + 1, &err),
                 -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_null(set);
}

Test(reject_rules_add, reports_json_errors_by_line_and_column)
{
    cr_assert_str_eq(load_err("{\n  \"rules\": [,]\n}"),
                     "t.json:2:13: not valid JSON");
    cr_assert_str_eq(load_err("{} x"), "t.json:1:4: not valid JSON");
    cr_assert_eq(reject_rules_add(&shipped, "nul.json", "{}\0", 3, NULL), -1);
}

Test(reject_rules_add, leaves_the_set_as_it_was_on_failure)
{
    struct reject_rules *set = NULL;

    cr_assert_str_eq(add_err(&set, "{\"providers\": [{\"name\": \"p\", "
                                   "\"text\": \"x\"}], \"rules\": [{" RULE_OK
                                   ", \"provider\": \"p\"}]}"),
                     "");
    cr_assert_neq(add_err(&set, "{\"providers\": [{\"name\": \"q\", "
                                "\"text\": \"y\"}], \"rules\": [{\"id\": "
                                "\"r2\", \"category\": \"nope\"}]}")[0],
                  '\0');
    cr_assert_eq(reject_rules_count(set), 1);
    /* q and r2 were dropped: both can be added again */
    cr_assert_str_eq(add_err(&set, "{\"providers\": [{\"name\": \"q\", "
                                   "\"text\": \"y\"}], \"rules\": [{\"id\": "
                                   "\"r2\", \"provider\": \"q\", "
                                   "\"category\": \"dkim\", \"confidence\": "
                                   "\"low\", \"explanation\": \"e\", "
                                   "\"remedy\": \"r\"}]}"),
                     "");
    cr_assert_eq(reject_rules_count(set), 2);
    /* p is known to later files */
    cr_assert_str_eq(add_err(&set, "{\"rules\": [{\"id\": \"r3\", "
                                   "\"provider\": \"p\", \"category\": "
                                   "\"dkim\", \"confidence\": \"low\", "
                                   "\"explanation\": \"e\", \"remedy\": "
                                   "\"r\"}]}"),
                     "");
    cr_assert_str_eq(
        add_err(&set, "{\"providers\": [{\"name\": \"p\", \"text\": \"z\"}]}"),
        "t.json: $.providers[0].name: provider p is declared twice");
    reject_rules_free(set);
}

/* A fresh directory under the build tree's test/gen. */
static const char *
tmp_dir(const char *name)
{
    static char dir[4096];

    snprintf(dir, sizeof(dir), "%s/reject-%s-%ld", PB_TEST_GEN, name,
             (long)getpid());
    mkdir(PB_TEST_GEN, 0755);
    cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST, "%s", dir);
    return dir;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(reject_rules_load, reads_json_files_in_name_order)
{
    const char *dir = tmp_dir("order");
    struct reject_rules *set = NULL;
    struct reject_verdict v;
    struct reject_input in = {0};
    struct pb_err err;

    write_file(dir, "20-b.json",
               "{\"rules\": [{\"id\": \"b\", \"text\": \"x\", \"category\": "
               "\"dkim\", \"confidence\": \"low\", \"explanation\": \"e\", "
               "\"remedy\": \"r\"}]}");
    write_file(dir, "10-a.json",
               "{\"rules\": [{\"id\": \"a\", \"text\": \"x\", \"category\": "
               "\"spf\", \"confidence\": \"low\", \"explanation\": \"e\", "
               "\"remedy\": \"r\"}]}");
    write_file(dir, "README.md", "not a rule file");
    write_file(dir, ".hidden.json", "broken");
    cr_assert_eq(reject_rules_load(dir, &set, &err), 0, "%s", err.msg);
    cr_assert_eq(reject_rules_count(set), 2);
    in.text = "x";
    in.text_len = 1;
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "a", "equal specificity: the earlier file wins");
    reject_rules_free(set);
}

Test(reject_rules_load, names_the_file_that_is_wrong)
{
    const char *dir = tmp_dir("bad");
    struct reject_rules *set = (struct reject_rules *)1;
    struct pb_err err;
    char want[4300];

    write_file(dir, "10-good.json", "{\"rules\": []}");
    write_file(dir, "20-bad.json", "{\"rules\": [{\"id\": 5}]}");
    cr_assert_eq(reject_rules_load(dir, &set, &err), -1);
    cr_assert_null(set);
    snprintf(want, sizeof(want),
             "%s/20-bad.json: $.rules[0].id: expected a "
             "string",
             dir);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(err.code, PB_E_SYNTAX);
}

Test(reject_rules_load, refuses_missing_and_empty_directories)
{
    struct reject_rules *set;
    struct pb_err err;

    cr_assert_eq(reject_rules_load("/nonexistent/rules", &set, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert(strstr(err.msg, "/nonexistent/rules") != NULL, "%s", err.msg);
    cr_assert_eq(reject_rules_load(tmp_dir("empty"), &set, &err), -1);
    cr_assert(strstr(err.msg, "no rule files (*.json)") != NULL, "%s", err.msg);
}

Test(reject_rules_load, loads_the_shipped_rules)
{
    load_shipped();
    cr_assert_gt(reject_rules_count(shipped), 150);
    free_shipped();
}

/* ------------------------------------------------------------------ */
/* Specificity                                                         */

TestSuite(reject_classify, .init = load_shipped, .fini = free_shipped);

Test(reject_classify, microsoft_5_7_30_at_auth_is_basic_auth_switched_off)
{
    struct reject_verdict v;

    v = judge(PB_STAGE_AUTH, 550, "5.7.30", "smtp.office365.com", "");
    cr_assert_eq(v.category, REJECT_SMTP_AUTH);
    cr_assert_str_eq(v.rule, "microsoft-5.7.30-auth");
    cr_assert_str_eq(v.provider, "microsoft");
    cr_assert_eq(v.confidence, REJECT_CONF_HIGH);

    /* the same code from a server we do not know: REQUIRETLS (RFC 8689) */
    v = judge(PB_STAGE_DATA, 550, "5.7.30", "mail.example.net", "");
    cr_assert_eq(v.category, REJECT_TLS_REQUIRED);
    cr_assert_str_eq(v.rule, "status-x.7.30");
    cr_assert_str_eq(v.provider, "");
    cr_assert_eq(v.confidence, REJECT_CONF_MEDIUM);

    /* ... and at AUTH only the stage speaks: a refused login, no more */
    v = judge(PB_STAGE_AUTH, 550, "5.7.30", "mail.example.net", "");
    cr_assert_eq(v.category, REJECT_SMTP_AUTH);
    cr_assert_str_eq(v.rule, "stage-auth-5xx");
    cr_assert_eq(v.confidence, REJECT_CONF_MEDIUM);

    /* Microsoft, but not at AUTH: the stage is part of the rule */
    v = judge(PB_STAGE_RCPT, 550, "5.7.30", "smtp.office365.com", "");
    cr_assert_str_eq(v.rule, "status-x.7.30");

    /* Microsoft at an unknown stage: a rule naming a stage does not apply */
    v = judge(PB_STAGE_NONE, 550, "5.7.30", "smtp.office365.com", "");
    cr_assert_str_eq(v.rule, "status-x.7.30");

    /* Gmail's x.7.30 is DKIM */
    v = judge(PB_STAGE_DATA, 550, "5.7.30", "gmail-smtp-in.l.google.com", "");
    cr_assert_eq(v.category, REJECT_DKIM);
    cr_assert_str_eq(v.rule, "google-x.7.30-dkim");
}

Test(reject_classify, the_text_wins_over_the_status_code)
{
    struct reject_verdict v;

    /* a rate limit sent as 5.1.1 is a rate limit */
    v = judge(PB_STAGE_RCPT, 550, "5.1.1", NULL,
              "<kijitora@example.com> - 203.0.113.222 has sent to too many "
              "recipients this hour. IB607 <http://x.co/rlbounce>");
    cr_assert_eq(v.category, REJECT_RATE_LIMIT);
    /* without the text, 5.1.1 is an unknown recipient */
    v = judge(PB_STAGE_RCPT, 550, "5.1.1", NULL, "<kijitora@example.com>");
    cr_assert_eq(v.category, REJECT_RECIPIENT_UNKNOWN);
    cr_assert_str_eq(v.rule, "status-x.1.1");
    /* 5.7.1 names nothing, its text names SPF */
    v = judge(PB_STAGE_RCPT, 550, "5.7.1", NULL,
              "192.0.2.222 is not allowed to send from <example.net> per "
              "it's SPF Record");
    cr_assert_eq(v.category, REJECT_SPF);
    cr_assert_eq(v.confidence, REJECT_CONF_HIGH);
    /* SPF named as passing is not an SPF failure */
    v = judge(PB_STAGE_DATA, 550, "5.7.1", NULL,
              "message refused by local rules (spf=pass dkim=pass)");
    cr_assert_neq(v.category, REJECT_SPF);
}

Test(reject_classify, outlook_5_7_515_says_which_check_failed)
{
    static const char *base =
        "Access denied, sending domain EXAMPLE.COM doesn't meet the required "
        "authentication level. ";
    char text[512];
    struct reject_verdict v;

    snprintf(text, sizeof(text), "%sSpf= Pass , Dkim= Pass , DMARC= Fail",
             base);
    v = judge(PB_STAGE_DATA, 550, "5.7.515",
              "hotmail-com.olc.protection."
              "outlook.com",
              text);
    cr_assert_eq(v.category, REJECT_DMARC);
    snprintf(text, sizeof(text), "%sSpf= Fail , Dkim= Fail , DMARC= Fail",
             base);
    v = judge(PB_STAGE_DATA, 550, "5.7.515",
              "hotmail-com.olc.protection."
              "outlook.com",
              text);
    cr_assert_eq(v.category, REJECT_AUTH_MULTIPLE);
}

Test(reject_classify, nothing_known_is_policy_other_said_plainly)
{
    struct reject_verdict v;
    struct reject_input in = {0};

    v = judge(PB_STAGE_DATA, 550, "5.7.1", "mx.example.org",
              "Message rejected");
    cr_assert_eq(v.category, REJECT_POLICY_OTHER);
    cr_assert_eq(v.confidence, REJECT_CONF_LOW);
    cr_assert(v.is_permanent);

    in.text = "nothing";
    in.text_len = 7;
    reject_classify(NULL, &in, &v);
    cr_assert_eq(v.category, REJECT_POLICY_OTHER);
    cr_assert_eq(v.confidence, REJECT_CONF_LOW);
    cr_assert_str_eq(v.rule, "");
    cr_assert(strstr(v.explanation, "nothing in the reply names the check") !=
              NULL);
    cr_assert_neq(v.remedy[0], '\0');
}

Test(reject_classify, permanence_follows_the_code_then_the_status)
{
    cr_assert_not(judge(PB_STAGE_RCPT, 450, "4.2.2", NULL, "").is_permanent);
    cr_assert(judge(PB_STAGE_RCPT, 550, NULL, NULL, "").is_permanent);
    cr_assert_not(judge(PB_STAGE_RCPT, 0, "4.7.1", NULL, "").is_permanent);
    cr_assert(judge(PB_STAGE_NONE, 0, NULL, NULL, "").is_permanent);
}

/* A synthetic set to pin the order: text > server > stage > status > code. */
Test(reject_classify, orders_rules_by_specificity_then_load_order)
{
    static const char *file =
        "{\"providers\": [{\"name\": \"p\", \"host\": "
        "\"^mx\\\\.p\\\\.test$\"}],"
        " \"rules\": ["
        "{\"id\": \"code\", \"code\": \"5xx\", \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"},"
        "{\"id\": \"code550\", \"code\": 550, \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"},"
        "{\"id\": \"stage\", \"stage\": \"rcpt\", \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"},"
        "{\"id\": \"class\", \"status\": \"5.x.x\", \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"},"
        "{\"id\": \"status\", \"status\": \"x.7.1\", \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"},"
        "{\"id\": \"server\", \"provider\": \"p\", \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"},"
        "{\"id\": \"text\", \"text\": \"hello\", \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"},"
        "{\"id\": \"text2\", \"text\": \"hel+o\", \"category\": \"ptr\", "
        "\"confidence\": \"low\", \"explanation\": \"e\", \"remedy\": \"r\"}"
        "]}";
    struct reject_rules *set = NULL;
    struct reject_input in = {0};
    struct reject_verdict v;
    struct pb_err err;

    cr_assert_eq(reject_rules_add(&set, "o.json", file, strlen(file), &err), 0,
                 "%s", err.msg);
    in.stage = PB_STAGE_RCPT;
    in.code = 550;
    in.status = "5.7.1";
    in.host = "MX.P.TEST.";
    in.text = "Hello";
    in.text_len = 5;
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "text");
    cr_assert_str_eq(v.provider, "p");
    in.text = "bye";
    in.text_len = 3;
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "server");
    in.host = "mx.other.test";
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "stage");
    in.stage = PB_STAGE_DATA;
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "status");
    in.status = "5.1.1";
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "class");
    in.status = NULL;
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "code550");
    in.code = 554;
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "code");
    in.code = 450;
    reject_classify(set, &in, &v);
    cr_assert_str_eq(v.rule, "");
    reject_rules_free(set);
}

/* ------------------------------------------------------------------ */
/* Texts: unfolded, bounded, hostile                                   */

Test(reject_classify, reads_multi_line_replies_and_their_codes)
{
    static const char text[] =
        "550-5.7.26 This mail has been blocked because the sender is\r\n"
        "550-5.7.26 unauthenticated. Gmail requires all senders to\r\n"
        "550 5.7.26 authenticate with either SPF or DKIM. - gsmtp";
    struct reject_verdict v;

    v = judge(PB_STAGE_NONE, 0, NULL, NULL, text);
    cr_assert_eq(v.category, REJECT_AUTH_MULTIPLE);
    cr_assert_str_eq(v.rule, "google-unauthenticated");
    cr_assert_str_eq(v.provider, "google");
    cr_assert(v.is_permanent);

    /* a Diagnostic-Code keeps its "smtp;" */
    v = judge(PB_STAGE_NONE, 0, NULL, NULL,
              "smtp; 452 4.2.2 The email account that you tried to reach is "
              "over quota. - gsmtp");
    cr_assert_eq(v.category, REJECT_MAILBOX_FULL);
    cr_assert_not(v.is_permanent);

    /* the status alone, found in the text */
    v = judge(PB_STAGE_NONE, 0, NULL, NULL, "550 5.7.23 rejected");
    cr_assert_str_eq(v.rule, "status-x.7.23");
    v = judge(PB_STAGE_NONE, 0, NULL, NULL, "4.7.23 rejected");
    cr_assert_str_eq(v.rule, "status-x.7.23");
    cr_assert_not(v.is_permanent);

    /* continuation prefixes joined into one line, as a DSN unfolds them */
    v = judge(PB_STAGE_DATA, 550, "5.7.26", "mx.google.com",
              "Unauthenticated email from example.com is not accepted due "
              "to 550-5.7.26 domain's DMARC policy. Please contact the "
              "administrator of example.com domain. 550 5.7.26 - gsmtp");
    cr_assert_str_eq(v.rule, "google-dmarc-policy");
    v = judge(PB_STAGE_DATA, 550, "5.7.26", NULL,
              "5.7.26 Unauthenticated email from example.com is not "
              "accepted due to 5.7.26 domain's DMARC policy. - gsmtp");
    cr_assert_str_eq(v.rule, "google-dmarc-policy");
    /* a status the server quotes itself stays in the text */
    v = judge(PB_STAGE_RCPT, 552, "5.1.1", NULL,
              "sorry, mailbox someone@example.org is over quota temporarily "
              "(#5.1.1)");
    cr_assert_eq(v.category, REJECT_MAILBOX_FULL);
}

Test(reject_classify, survives_hostile_input)
{
    static const char nul[] = "user\0unknown \xff\xfe\x01 blocked using zen";
    struct reject_input in = {0};
    struct reject_verdict v;
    char *big;

    in.code = 550;
    in.text = nul;
    in.text_len = sizeof(nul) - 1;
    reject_classify(shipped, &in, &v);
    cr_assert_eq(v.category, REJECT_BLOCKLIST, "NUL is a space, not an end");

    /* a wording past PB_LIMIT_REJECT_TEXT is not searched */
    big = malloc(PB_LIMIT_REJECT_TEXT + 64);
    memset(big, 'x', PB_LIMIT_REJECT_TEXT + 64);
    memcpy(big + PB_LIMIT_REJECT_TEXT - 12, " user unknown", 13);
    in.text = big;
    in.text_len = PB_LIMIT_REJECT_TEXT + 64;
    reject_classify(shipped, &in, &v);
    cr_assert_neq(v.category, REJECT_RECIPIENT_UNKNOWN);
    memcpy(big + PB_LIMIT_REJECT_TEXT - 13, " user unknown", 13);
    reject_classify(shipped, &in, &v);
    cr_assert_eq(v.category, REJECT_RECIPIENT_UNKNOWN, "just inside");
    free(big);

    /* bad codes and statuses count as unknown */
    in.text = "";
    in.text_len = 0;
    in.code = 999;
    in.status = "5.7.26x";
    reject_classify(shipped, &in, &v);
    cr_assert_eq(v.category, REJECT_POLICY_OTHER);
    cr_assert_str_eq(v.rule, "");
    in.code = 0;
    in.status = "5.7.2600";
    reject_classify(shipped, &in, &v);
    cr_assert_str_eq(v.rule, "");
    in.status = NULL;
    in.text = NULL;
    in.text_len = 99;
    in.host = "";
    reject_classify(shipped, &in, &v);
    cr_assert_eq(v.category, REJECT_POLICY_OTHER);
}

/* ------------------------------------------------------------------ */
/* The provider table                                                  */

struct reply_row {
    char *provider, *stage, *code, *status, *text, *host, *expected, *source;
};

static enum pb_stage
stage_of(const char *s)
{
    int i;

    for (i = PB_STAGE_NONE; i <= PB_STAGE_IO; i++)
        if (strcmp(pb_stage_name((enum pb_stage)i), s) == 0)
            return (enum pb_stage)i;
    return PB_STAGE_NONE;
}

/* "\n" in a text is a line break of a multi-line reply. */
static void
unescape(char *s)
{
    char *w = s;

    for (; *s != '\0'; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            *w++ = '\r';
            *w++ = '\n';
            s++;
            continue;
        }
        *w++ = *s;
    }
    *w = '\0';
}

Test(reject_classify, classifies_every_line_of_the_provider_table)
{
    static const char *const recognised[] = {"google", "microsoft", "yahoo",
                                             "apple", "mimecast"};
    char *data = testdata_read(testdata_path("reject/replies.tsv"), NULL);
    char *line, *save = NULL, *f[8];
    size_t n = 0, bad = 0, i, k;

    cr_assert_not_null(data);
    for (line = strtok_r(data, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        struct reject_verdict v;
        char *p = line;

        if (line[0] == '#')
            continue;
        for (k = 0; k < 8; k++) {
            f[k] = p;
            p = strchr(p, '\t');
            if (p == NULL)
                break;
            *p++ = '\0';
        }
        cr_assert_eq(k, 7, "line %zu: 8 columns", n + 1);
        cr_assert(strncmp(f[7], "https://", 8) == 0, "line %zu: no source",
                  n + 1);
        cr_assert_geq(reject_category_parse(f[6]), 0, "%s", f[6]);
        unescape(f[4]);
        n++;
        v = judge(stage_of(f[1]), atoi(f[2]), f[3][0] ? f[3] : NULL,
                  f[5][0] ? f[5] : NULL, f[4]);
        if (strcmp(reject_category_name(v.category), f[6]) != 0) {
            cr_log_error("%s: expected %s, got %s (rule %s): %s", f[0], f[6],
                         reject_category_name(v.category), v.rule, f[4]);
            bad++;
            continue;
        }
        for (i = 0; i < sizeof(recognised) / sizeof(recognised[0]); i++) {
            if (strcmp(f[0], recognised[i]) == 0 &&
                strcmp(v.provider, f[0]) != 0) {
                cr_log_error("%s not recognised (got \"%s\"): %s", f[0],
                             v.provider, f[4]);
                bad++;
            }
        }
    }
    free(data);
    cr_log_info("provider table: %zu replies, %zu wrong", n, bad);
    cr_assert_geq(n, 80);
    cr_assert_eq(bad, 0, "%zu of %zu replies classified wrong", bad, n);
}
