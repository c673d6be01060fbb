/* SPDX-License-Identifier: MIT */
/*
 * DMARC: the record parser (valid, limits, hostile, regressions), the
 * organizational domain by the public suffix list and by the RFC 9989 DNS
 * tree walk, and the audit with a fixture case for every finding id.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "pb_limits.h"
#include "testdata.h"

/* ---- helpers ---- */

/*
 * Criterion 2.4 runs each parameter in a fresh process where static data may
 * sit elsewhere: parameters and their strings live in cr_malloc memory.
 */
static size_t
count(const struct pb_findings *f, const char *id)
{
    size_t n;

    pb_findings_find(f, id, &n);
    return n;
}

/* Parse s (NUL-terminated) expecting success; findings into *f. */
static void
parse_ok(const char *s, struct dmarc_record *rec, struct pb_findings *f)
{
    struct pb_err err;

    pb_findings_init(f);
    cr_assert_eq(dmarc_record_parse(s, strlen(s), rec, f, &err), 0, "%s: %s", s,
                 err.msg);
}

static int
parse_fails(const char *p, size_t len, struct pb_err *err)
{
    struct dmarc_record rec;
    struct pb_findings f;
    int rc;

    pb_findings_init(&f);
    rc = dmarc_record_parse(p, len, &rec, &f, err);
    cr_assert_eq(f.n, 0, "no findings for a record that is not one");
    pb_findings_release(&f);
    return rc == -1;
}

/* ---- parser: valid input ---- */

Test(dmarc_parse, reads_every_tag)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; "
             "aspf=s; fo=1:d:s; psd=n; t=y; "
             "rua=mailto:agg@example.com,mailto:x@vendor.example!10m; "
             "ruf=mailto:fail@example.com",
             &r, &f);
    cr_assert_eq(f.n, 1, "only the !size note, got %zu", f.n);
    cr_assert_not_null(pb_findings_find(&f, "dmarc-uri-size", NULL));
    cr_assert_eq(r.p, DMARC_POLICY_QUARANTINE);
    cr_assert_eq(r.sp, DMARC_POLICY_REJECT);
    cr_assert_eq(r.np, DMARC_POLICY_REJECT);
    cr_assert_eq(r.adkim, DMARC_ALIGN_STRICT);
    cr_assert_eq(r.aspf, DMARC_ALIGN_STRICT);
    cr_assert_eq(r.fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
    cr_assert_eq(r.psd, DMARC_PSD_N);
    cr_assert(r.is_testing);
    cr_assert_eq(r.nrua, 2);
    cr_assert_str_eq(r.rua[0].address, "agg@example.com");
    cr_assert_str_eq(r.rua[0].domain, "example.com");
    cr_assert(r.rua[1].has_size);
    cr_assert(r.rua[1].is_valid);
    cr_assert_str_eq(r.rua[1].domain, "vendor.example");
    cr_assert_eq(r.nruf, 1);
    cr_assert_eq(r.ntags, 11);
    cr_assert_str_eq(r.tags[0].name, "v");
    cr_assert_str_eq(r.tags[9].value,
                     "mailto:agg@example.com,mailto:x@vendor.example!10m");
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, defaults_when_tags_are_absent)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1", &r, &f);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(r.p, DMARC_POLICY_ABSENT);
    cr_assert_eq(r.adkim, DMARC_ALIGN_RELAXED);
    cr_assert_eq(r.psd, DMARC_PSD_U);
    cr_assert_eq(r.fo, 0);
    cr_assert_eq(r.pct, -1);
    cr_assert_not(r.is_testing);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, white_space_and_case_follow_the_abnf)
{
    struct dmarc_record r;
    struct pb_findings f;

    /* equals = *WSP "=" *WSP, dmarc-sep = *WSP ";" *WSP; quoted ABNF
       strings (tag names, policy words) are case-insensitive */
    parse_ok("V = DMARC1 ;\tP = Reject ; RUA = mailto:A@Example.COM ;", &r, &f);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(r.p, DMARC_POLICY_REJECT);
    cr_assert_str_eq(r.rua[0].domain, "example.com");
    cr_assert_str_eq(r.rua[0].address, "A@example.com");
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, uri_list_with_spaces_and_percent_encoding)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1; p=none; rua=mailto:%61gg@x.example , "
             "mailto:b@y.example?subject=dmarc",
             &r, &f);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(r.nrua, 2);
    cr_assert_str_eq(r.rua[0].address, "agg@x.example");
    cr_assert_str_eq(r.rua[0].uri, "mailto:%61gg@x.example");
    cr_assert_str_eq(r.rua[1].domain, "y.example");
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

struct uri_case {
    const char *rua;
    bool is_valid;
};

ParameterizedTestParameters(dmarc_parse, uri_forms)
{
    static struct uri_case cases[] = {
        {"mailto:a@b.example", true},
        {"MAILTO:a@b.example", true},
        {"mailto:a@b.example!10", true},
        {"mailto:a@b.example!10G", true},
        {"mailto:a@b.example!", false},
        {"mailto:a@b.example!10x", false},
        {"mailto:a!b@c.example", false},
        {"mailto:a%21b@c.example", true},
        {"mailto:a%2Cb@c.example", false},
        {"mailto:a@b@c.example", false},
        {"mailto:@b.example", false},
        {"mailto:a@", false},
        {"mailto:", false},
        {"mailto:a@[192.0.2.1]", false},
        {"mailto:a@b..example", false},
        {"mailto:a@b.example%", false},
        {"mailto:a@b.example%4", false},
        {"mailto:a%00@b.example", false},
        {"https://reports.example/x", false},
        {"a@b.example", false},
        {"1mailto:a@b.example", false},
        {"mailto:a b@c.example", false},
    };

    size_t n = sizeof(cases) / sizeof(cases[0]), i;
    struct uri_case *c = cr_malloc(n * sizeof(*c));

    for (i = 0; i < n; i++) {
        c[i].rua = testdata_param_strdup(cases[i].rua);
        c[i].is_valid = cases[i].is_valid;
    }
    return cr_make_param_array(struct uri_case, c, n);
}

ParameterizedTest(struct uri_case *c, dmarc_parse, uri_forms)
{
    char rec[256];
    struct dmarc_record r;
    struct pb_findings f;

    snprintf(rec, sizeof(rec), "v=DMARC1; p=none; rua=%s", c->rua);
    parse_ok(rec, &r, &f);
    cr_assert_eq(r.nrua, 1, "%s", c->rua);
    cr_assert_eq(r.rua[0].is_valid, c->is_valid, "%s", c->rua);
    cr_assert_eq(pb_findings_find(&f, "dmarc-bad-uri", NULL) == NULL,
                 c->is_valid, "%s", c->rua);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

struct fo_case {
    const char *fo;
    unsigned bits; /* 0: invalid */
};

ParameterizedTestParameters(dmarc_parse, fo_values)
{
    static struct fo_case cases[] = {
        {"0", DMARC_FO_0},
        {"1", DMARC_FO_1},
        {"d", DMARC_FO_D},
        {"s:d", DMARC_FO_S | DMARC_FO_D},
        {"1:d:s", DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S},
        {"0:1", 0},
        {"d:d", 0},
        {"2", 0},
        {"1:", 0},
        {":1", 0},
        {"1 : d", 0},
    };

    size_t n = sizeof(cases) / sizeof(cases[0]), i;
    struct fo_case *c = cr_malloc(n * sizeof(*c));

    for (i = 0; i < n; i++) {
        c[i].fo = testdata_param_strdup(cases[i].fo);
        c[i].bits = cases[i].bits;
    }
    return cr_make_param_array(struct fo_case, c, n);
}

ParameterizedTest(struct fo_case *c, dmarc_parse, fo_values)
{
    char rec[128];
    struct dmarc_record r;
    struct pb_findings f;

    snprintf(rec, sizeof(rec), "v=DMARC1; p=none; fo=%s", c->fo);
    parse_ok(rec, &r, &f);
    cr_assert_eq(r.fo, c->bits, "fo=%s", c->fo);
    cr_assert_eq(pb_findings_find(&f, "dmarc-invalid-tag-value", NULL) != NULL,
                 c->bits == 0, "fo=%s", c->fo);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

/* ---- parser: not a DMARC record ---- */

Test(dmarc_parse, version_must_be_first_and_exact)
{
    static const char *const bad[] = {
        "",
        "p=reject; v=DMARC1",
        "v=dmarc1; p=reject",
        "v=DMARC2; p=reject",
        "v=DMARC1 p=reject",
        "v=DMARC10; p=reject",
        "v:DMARC1",
        "x v=DMARC1",
        "v=spf1 -all",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pb_err err;

        cr_assert(parse_fails(bad[i], strlen(bad[i]), &err), "%s", bad[i]);
        cr_assert_eq(err.code, PB_E_SYNTAX, "%s", bad[i]);
    }
}

Test(dmarc_parse, lower_case_version_says_why)
{
    struct pb_err err;

    cr_assert(parse_fails("v=dmarc1; p=none", 16, &err));
    cr_assert(strstr(err.msg, "capitals") != NULL, "%s", err.msg);
}

/* ---- parser: limits ---- */

static char *
record_of_size(size_t len)
{
    const char *head = "v=DMARC1; p=reject; x=";
    char *p = malloc(len);

    memcpy(p, head, strlen(head));
    memset(p + strlen(head), 'a', len - strlen(head));
    return p;
}

Test(dmarc_parse, record_at_the_limit_parses_and_one_over_is_refused)
{
    struct dmarc_record r;
    struct pb_findings f;
    struct pb_err err;
    char *p = record_of_size(PB_LIMIT_DNS_RDATA + 1);

    pb_findings_init(&f);
    cr_assert_eq(dmarc_record_parse(p, PB_LIMIT_DNS_RDATA, &r, &f, &err), 0);
    cr_assert_eq(r.p, DMARC_POLICY_REJECT);
    cr_assert_eq(r.raw_len, PB_LIMIT_DNS_RDATA);
    cr_assert_eq(strlen(r.tags[2].value),
                 PB_LIMIT_DNS_RDATA - strlen("v=DMARC1; p=reject; x="));
    cr_assert_not_null(pb_findings_find(&f, "dmarc-unknown-tag", NULL));
    dmarc_record_release(&r);
    pb_findings_release(&f);
    cr_assert_eq(dmarc_record_parse(p, PB_LIMIT_DNS_RDATA + 1, &r, &f, &err),
                 -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_eq(f.n, 0);
    free(p);
}

Test(dmarc_parse, thousands_of_bad_tags_give_bounded_findings)
{
    size_t len = 65000, i;
    char *p = malloc(len);
    struct dmarc_record r;
    struct pb_findings f;
    struct pb_err err;

    memcpy(p, "v=DMARC1", 8);
    for (i = 8; i + 2 <= len; i += 2)
        memcpy(p + i, ";x", 2);
    pb_findings_init(&f);
    cr_assert_eq(dmarc_record_parse(p, len, &r, &f, &err), 0);
    cr_assert_leq(f.n, 33);
    cr_assert(strstr(f.v[f.n - 1].message, "more problems") != NULL);
    dmarc_record_release(&r);
    pb_findings_release(&f);
    free(p);
}

/* ---- parser: hostile input ---- */

Test(dmarc_parse, nul_cr_and_8bit_bytes_drop_only_their_tag)
{
    static const char rec[] = "v=DMARC1; p=reject; x=a\0b; rua=mailto:d@"
                              "e.example; y=\r; z=\xe9t\xe9; w=a\tb";
    struct dmarc_record r;
    struct pb_findings f;
    struct pb_err err;

    pb_findings_init(&f);
    cr_assert_eq(dmarc_record_parse(rec, sizeof(rec) - 1, &r, &f, &err), 0);
    cr_assert_eq(count(&f, "dmarc-syntax"), 4);
    cr_assert_eq(r.p, DMARC_POLICY_REJECT);
    cr_assert_eq(r.nrua, 1);
    cr_assert_eq(r.ntags, 3, "v, p, rua");
    cr_assert_eq(f.v[0].evidence_len, sizeof(rec) - 1);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, nul_right_after_the_version_is_not_a_record)
{
    struct pb_err err;

    cr_assert(parse_fails("v=DMARC1\0; p=reject", 19, &err));
}

Test(dmarc_parse, missing_fields)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1; p; =reject; sp=; 1x=y; rua=", &r, &f);
    cr_assert_eq(count(&f, "dmarc-syntax"), 5);
    cr_assert_eq(r.p, DMARC_POLICY_ABSENT);
    cr_assert_eq(r.ntags, 1);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, duplicate_tags_keep_the_first)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1; p=reject; p=none; v=DMARC1; P=quarantine", &r, &f);
    cr_assert_eq(count(&f, "dmarc-duplicate-tag"), 3);
    cr_assert_eq(r.p, DMARC_POLICY_REJECT);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, empty_tag_specs_are_tolerated)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1;;; p=reject ;  ; ", &r, &f);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(r.p, DMARC_POLICY_REJECT);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, leading_white_space_is_accepted_with_a_finding)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("  v=DMARC1; p=reject", &r, &f);
    cr_assert_not_null(pb_findings_find(&f, "dmarc-syntax", NULL));
    cr_assert_eq(r.p, DMARC_POLICY_REJECT);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, invalid_values)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1; p=block; sp=none; adkim=x; aspf=rr; t=yes; psd=maybe",
             &r, &f);
    cr_assert_eq(count(&f, "dmarc-invalid-policy"), 1);
    cr_assert_eq(count(&f, "dmarc-invalid-tag-value"), 4);
    cr_assert(r.has_bad_policy);
    cr_assert_eq(r.p, DMARC_POLICY_ABSENT);
    cr_assert_eq(r.sp, DMARC_POLICY_NONE);
    cr_assert_eq(r.adkim, DMARC_ALIGN_RELAXED);
    cr_assert_eq(r.psd, DMARC_PSD_U);
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, removed_tags)
{
    struct dmarc_record r;
    struct pb_findings f;

    parse_ok("v=DMARC1; p=reject; pct=100; rf=afrf; ri=3600", &r, &f);
    cr_assert_eq(count(&f, "dmarc-removed-tag"), 3);
    cr_assert_eq(r.pct, 100);
    dmarc_record_release(&r);
    pb_findings_release(&f);
    parse_ok("v=DMARC1; pct=0; p=quarantine", &r, &f);
    cr_assert_not_null(pb_findings_find(&f, "dmarc-pct-partial", NULL),
                       "judged once p known");
    cr_assert_eq(r.pct, 0);
    dmarc_record_release(&r);
    pb_findings_release(&f);
    parse_ok("v=DMARC1; p=none; pct=50", &r, &f);
    cr_assert_null(pb_findings_find(&f, "dmarc-pct-partial", NULL),
                   "p=none: nothing partial");
    cr_assert_not_null(pb_findings_find(&f, "dmarc-removed-tag", NULL));
    dmarc_record_release(&r);
    pb_findings_release(&f);
    parse_ok("v=DMARC1; p=reject; pct=101", &r, &f);
    cr_assert_eq(r.pct, -1);
    cr_assert_not_null(pb_findings_find(&f, "dmarc-removed-tag", NULL));
    dmarc_record_release(&r);
    pb_findings_release(&f);
}

Test(dmarc_parse, null_findings_list_is_allowed)
{
    struct dmarc_record r;
    static const char rec[] = "v=DMARC1; p=x; q; rua=bad";

    cr_assert_eq(dmarc_record_parse(rec, sizeof(rec) - 1, &r, NULL, NULL), 0);
    cr_assert(r.has_bad_policy);
    dmarc_record_release(&r);
}

/* The separator as the last byte of an unterminated buffer. */
Test(dmarc_parse, final_separator_alone)
{
    struct dmarc_record r;
    char *p = malloc(9);

    memcpy(p, "v=DMARC1;", 9);
    cr_assert_eq(dmarc_record_parse(p, 9, &r, NULL, NULL), 0);
    cr_assert_eq(r.ntags, 1);
    dmarc_record_release(&r);
    free(p);
}

/* ---- organizational domain by the public suffix list ---- */

struct psl_case {
    const char *domain;
    const char *org; /* NULL: a public suffix itself */
};

ParameterizedTestParameters(dmarc_psl, org_domain)
{
    static struct psl_case cases[] = {
        {"example.com", "example.com"},
        {"mail.example.com", "example.com"},
        {"WWW.Example.COM.", "example.com"},
        {"example.co.uk", "example.co.uk"},
        {"a.b.example.co.uk", "example.co.uk"},
        {"co.uk", NULL},
        {"uk", NULL},
        {"com", NULL},
        /* the private section is used: github.io users are separate
           organizations (see docs/findings-dmarc.md) */
        {"user.github.io", "user.github.io"},
        {"a.b.user.github.io", "user.github.io"},
        {"github.io", NULL},
        /* wildcard and exception rules: *.kawasaki.jp, !city.kawasaki.jp */
        {"a.b.c.kawasaki.jp", "b.c.kawasaki.jp"},
        {"www.city.kawasaki.jp", "city.kawasaki.jp"},
        /* a TLD the list does not know: the default rule "*" */
        {"a.b.example", "b.example"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"", NULL},
    };

    size_t n = sizeof(cases) / sizeof(cases[0]), i;
    struct psl_case *c = cr_malloc(n * sizeof(*c));

    for (i = 0; i < n; i++) {
        c[i].domain = testdata_param_strdup(cases[i].domain);
        c[i].org = cases[i].org ? testdata_param_strdup(cases[i].org) : NULL;
    }
    return cr_make_param_array(struct psl_case, c, n);
}

ParameterizedTest(struct psl_case *c, dmarc_psl, org_domain)
{
    char out[254];
    int rc = dmarc_org_domain_psl(c->domain, out, sizeof(out));

    if (c->org == NULL) {
        cr_assert_eq(rc, -1, "%s gave %s", c->domain, out);
    } else {
        cr_assert_eq(rc, 0, "%s", c->domain);
        cr_assert_str_eq(out, c->org, "%s", c->domain);
    }
}

Test(dmarc_psl, small_buffer_is_refused)
{
    char out[12];

    /* "example.com" needs 12 bytes with its NUL */
    cr_assert_eq(dmarc_org_domain_psl("www.example.com", out, 11), -1);
    cr_assert_eq(dmarc_org_domain_psl("www.example.com", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "example.com");
}

/* ---- DNS tree walk: names ---- */

static void
targets_are(const char *domain, const char *const *want, size_t n)
{
    const char *t[DMARC_TREE_WALK_MAX];
    size_t got = dmarc_tree_walk_targets(domain, t), i;

    cr_assert_eq(got, n, "%s: %zu names", domain, got);
    for (i = 0; i < n; i++)
        cr_assert_str_eq(t[i], want[i], "%s[%zu]", domain, i);
}

Test(dmarc_walk, short_names_walk_every_label)
{
    static const char *const want[] = {"a.mail.example.com", "mail.example.com",
                                       "example.com", "com"};

    targets_are("a.mail.example.com", want, 4);
    targets_are("com", want + 3, 1);
    cr_assert_eq(dmarc_tree_walk_targets("", (const char *[8]){0}), 0);
}

Test(dmarc_walk, eight_labels_take_eight_queries)
{
    static const char *const want[] = {"a.b.c.d.e.f.example.com",
                                       "b.c.d.e.f.example.com",
                                       "c.d.e.f.example.com",
                                       "d.e.f.example.com",
                                       "e.f.example.com",
                                       "f.example.com",
                                       "example.com",
                                       "com"};

    targets_are("a.b.c.d.e.f.example.com", want, 8);
}

/* RFC 9989 §4.10: the example of a name with 13 labels */
Test(dmarc_walk, long_names_jump_to_seven_labels)
{
    static const char *const want[] = {"a.b.c.d.e.f.g.h.i.j.mail.example.com",
                                       "g.h.i.j.mail.example.com",
                                       "h.i.j.mail.example.com",
                                       "i.j.mail.example.com",
                                       "j.mail.example.com",
                                       "mail.example.com",
                                       "example.com",
                                       "com"};

    targets_are("a.b.c.d.e.f.g.h.i.j.mail.example.com", want, 8);
}

Test(dmarc_walk, nine_labels)
{
    static const char *const want[] = {"x.a.b.c.d.e.f.example.com",
                                       "b.c.d.e.f.example.com",
                                       "c.d.e.f.example.com",
                                       "d.e.f.example.com",
                                       "e.f.example.com",
                                       "f.example.com",
                                       "example.com",
                                       "com"};

    targets_are("x.a.b.c.d.e.f.example.com", want, 8);
}

/* ---- DNS tree walk: selection ---- */

static struct dns_resolver *walk_r;

static void
walk_setup(void)
{
    walk_r = testdata_resolver("dmarc/walk.json");
    cr_assert_not_null(walk_r);
}

static void
walk_teardown(void)
{
    dns_resolver_free(walk_r);
}

TestSuite(dmarc_walk_dns, .init = walk_setup, .fini = walk_teardown);

static void
walk_is(const char *domain, const char *org, const char *policy)
{
    struct dmarc_walk w;

    dmarc_tree_walk(walk_r, domain, &w);
    if (org == NULL)
        cr_assert_null(w.org_domain, "%s", domain);
    else
        cr_assert_str_eq(w.org_domain, org, "%s", domain);
    if (policy == NULL)
        cr_assert_eq(w.policy_step, -1, "%s", domain);
    else
        cr_assert_str_eq(w.steps[w.policy_step].domain, policy, "%s", domain);
    dmarc_walk_release(&w);
}

/* RFC 9989 Appendix B.4.1 */
Test(dmarc_walk_dns, fewest_labels_wins)
{
    walk_is("example.com", "example.com", "example.com");
    walk_is("signing.example.com", "example.com", "signing.example.com");
    walk_is("x.y.example.com", "example.com", "example.com");
}

/* RFC 9989 Appendix B.4.2 */
Test(dmarc_walk_dns, deep_name)
{
    struct dmarc_walk w;

    walk_is("a.b.c.d.e.f.g.h.i.j.k.example.com", "example.com", "example.com");
    dmarc_tree_walk(walk_r, "a.b.c.d.e.f.g.h.i.j.k.example.com", &w);
    cr_assert_eq(w.nsteps, 8);
    cr_assert_str_eq(w.steps[1].answer->qname, "_dmarc.g.h.i.j.k.example.com");
    dmarc_walk_release(&w);
}

/* RFC 9989 Appendix B.4.3: psd=y at bank.example */
Test(dmarc_walk_dns, psd_y_names_the_label_below)
{
    struct dmarc_walk w;

    walk_is("giant.bank.example", "giant.bank.example", "giant.bank.example");
    walk_is("mail.giant.bank.example", "giant.bank.example",
            "giant.bank.example");
    /* no record of its own: the public suffix's record is the policy */
    walk_is("mail.mega.bank.example", "mega.bank.example", "bank.example");
    dmarc_tree_walk(walk_r, "mail.mega.bank.example", &w);
    cr_assert(w.is_psd_policy);
    cr_assert_eq(w.nconsidered, 3, "stops at bank.example");
    dmarc_walk_release(&w);
    /* psd=y at the start: it is its own organizational domain */
    walk_is("bank.example", "bank.example", "bank.example");
}

Test(dmarc_walk_dns, psd_n_stops_the_walk)
{
    walk_is("a.div.corp.example", "div.corp.example", "div.corp.example");
    walk_is("div.corp.example", "div.corp.example", "div.corp.example");
    walk_is("other.corp.example", "corp.example", "corp.example");
}

Test(dmarc_walk_dns, several_records_count_as_none)
{
    /* _dmarc.twice.example holds two records: discarded (§4.10 step 2) */
    walk_is("twice.example", "twice.example", NULL);
    walk_is("sub.twice.example", "sub.twice.example", NULL);
}

Test(dmarc_walk_dns, no_record_anywhere_means_the_domain_itself)
{
    walk_is("nothing.example", "nothing.example", NULL);
}

Test(dmarc_walk_dns, dns_error_leaves_the_org_domain_undecided)
{
    struct dmarc_walk w;

    dmarc_tree_walk(walk_r, "a.flaky.example", &w);
    cr_assert_null(w.org_domain);
    cr_assert_eq(w.error_step, 1);
    dmarc_walk_release(&w);
    /* an error after the walk stopped does not matter */
    walk_is("x.stop.flaky.example", "stop.flaky.example", "stop.flaky.example");
}

/* ---- the audit ---- */

static struct dns_resolver *res;

static void
setup(void)
{
    res = testdata_resolver("dmarc/audit.json");
    cr_assert_not_null(res);
}

static void
teardown(void)
{
    dns_resolver_free(res);
}

TestSuite(dmarc_audit, .init = setup, .fini = teardown);

static void
run(const char *domain, struct dmarc_audit *a)
{
    dmarc_audit_run(res, domain, a);
}

/* Audit domain and expect finding id with severity sev in it. */
static void
expect(const char *domain, const char *id, enum pb_severity sev,
       enum pb_status status)
{
    struct dmarc_audit a;
    const struct pb_finding *fd;

    run(domain, &a);
    fd = pb_findings_find(&a.findings, id, NULL);
    cr_assert_not_null(fd, "%s: no %s (%zu findings, first %s)", domain, id,
                       a.findings.n,
                       a.findings.n ? a.findings.v[0].id : "none");
    cr_assert_eq(fd->sev, sev, "%s: %s severity", domain, id);
    cr_assert_str_eq(fd->check, "dmarc");
    cr_assert_not_null(fd->message);
    cr_assert_not_null(fd->remedy, "%s: %s has a remedy", domain, id);
    cr_assert_eq(a.status, status, "%s: status %s", domain,
                 pb_status_name(a.status));
    dmarc_audit_release(&a);
}

Test(dmarc_audit, good_record_has_nothing_to_say)
{
    struct dmarc_audit a;

    run("ok.example", &a);
    cr_assert_eq(a.status, PB_STATUS_OK);
    cr_assert_eq(a.findings.n, 0, "first: %s",
                 a.findings.n ? a.findings.v[0].message : "");
    cr_assert_str_eq(a.found_by, "domain");
    cr_assert_str_eq(a.found_at, "ok.example");
    cr_assert_str_eq(a.record, "v=DMARC1; p=reject; "
                               "rua=mailto:dmarc@ok.example");
    cr_assert_str_eq(a.org_domain_psl, "ok.example");
    cr_assert_str_eq(a.org_domain_tree, "ok.example");
    cr_assert_eq(a.effective, DMARC_POLICY_REJECT);
    cr_assert_eq(a.rec.rua[0].auth, DMARC_AUTH_NOT_NEEDED);
    cr_assert_not(a.rec.rua[0].is_external);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, trailing_dot_and_case_are_the_same_domain)
{
    struct dmarc_audit a;

    run("OK.Example.", &a);
    cr_assert_str_eq(a.domain, "ok.example");
    cr_assert_eq(a.status, PB_STATUS_OK);
    cr_assert_str_eq(a.found_by, "domain");
    dmarc_audit_release(&a);
}

Test(dmarc_audit, every_finding_id)
{
    expect("missing.example", "dmarc-missing", PB_SEV_FAIL, PB_STATUS_FAIL);
    expect("multi.example", "dmarc-multiple-records", PB_SEV_FAIL,
           PB_STATUS_FAIL);
    expect("ignored.example", "dmarc-record-ignored", PB_SEV_FAIL,
           PB_STATUS_FAIL);
    expect("stray.example", "dmarc-stray-record", PB_SEV_WARN, PB_STATUS_WARN);
    expect("syntax.example", "dmarc-syntax", PB_SEV_WARN, PB_STATUS_WARN);
    expect("dup.example", "dmarc-duplicate-tag", PB_SEV_WARN, PB_STATUS_WARN);
    expect("unknown.example", "dmarc-unknown-tag", PB_SEV_INFO, PB_STATUS_OK);
    expect("removed.example", "dmarc-removed-tag", PB_SEV_INFO, PB_STATUS_OK);
    expect("pct.example", "dmarc-pct-partial", PB_SEV_WARN, PB_STATUS_WARN);
    expect("badvalue.example", "dmarc-invalid-tag-value", PB_SEV_WARN,
           PB_STATUS_WARN);
    expect("badpolicy.example", "dmarc-invalid-policy", PB_SEV_FAIL,
           PB_STATUS_FAIL);
    expect("nop.example", "dmarc-policy-missing", PB_SEV_FAIL, PB_STATUS_FAIL);
    expect("noprua.example", "dmarc-policy-none", PB_SEV_WARN, PB_STATUS_WARN);
    expect("none.example", "dmarc-policy-none", PB_SEV_WARN, PB_STATUS_WARN);
    expect("testing.example", "dmarc-testing", PB_SEV_INFO, PB_STATUS_OK);
    expect("weaksp.example", "dmarc-subdomain-policy-weaker", PB_SEV_INFO,
           PB_STATUS_OK);
    expect("norua.example", "dmarc-no-rua", PB_SEV_INFO, PB_STATUS_OK);
    expect("fo.example", "dmarc-fo-without-ruf", PB_SEV_INFO, PB_STATUS_OK);
    expect("psdflag.example.com", "dmarc-psd-flag", PB_SEV_WARN,
           PB_STATUS_WARN);
    expect("baduri.example", "dmarc-bad-uri", PB_SEV_WARN, PB_STATUS_WARN);
    expect("size.example", "dmarc-uri-size", PB_SEV_INFO, PB_STATUS_OK);
    expect("ext.example", "dmarc-external-rua-unauthorized", PB_SEV_WARN,
           PB_STATUS_WARN);
    expect("ext.example", "dmarc-external-ruf-unauthorized", PB_SEV_WARN,
           PB_STATUS_WARN);
    expect("many.example", "dmarc-too-many-destinations", PB_SEV_INFO,
           PB_STATUS_OK);
    expect("mail.orgcorp.example", "dmarc-found-at-org-domain", PB_SEV_INFO,
           PB_STATUS_OK);
    expect("small.bank.example", "dmarc-found-at-psd", PB_SEV_WARN,
           PB_STATUS_WARN);
    expect("user.github.io", "dmarc-org-domain-mismatch", PB_SEV_WARN,
           PB_STATUS_WARN);
    expect("sub.slowparent.example", "dmarc-org-domain-unknown", PB_SEV_INFO,
           PB_STATUS_OK);
    expect("err.example", "dmarc-dns-error", PB_SEV_ERROR, PB_STATUS_ERROR);
    expect("bad..name", "dmarc-invalid-domain", PB_SEV_ERROR, PB_STATUS_ERROR);
}

Test(dmarc_audit, two_records_are_reported_with_both_as_evidence)
{
    struct dmarc_audit a;
    const struct pb_finding *fd;

    run("multi.example", &a);
    fd = pb_findings_find(&a.findings, "dmarc-multiple-records", NULL);
    cr_assert(strstr(fd->evidence, "p=reject") != NULL);
    cr_assert(strstr(fd->evidence, "p=none") != NULL);
    cr_assert_null(a.found_by);
    cr_assert_null(a.record);
    cr_assert_null(pb_findings_find(&a.findings, "dmarc-missing", NULL),
                   "not also missing");
    dmarc_audit_release(&a);
}

Test(dmarc_audit, unrelated_txt_at_dmarc_is_not_reported)
{
    struct dmarc_audit a;

    run("token.example", &a);
    cr_assert_eq(a.findings.n, 0);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, missing_record_remedy_gives_a_starting_record)
{
    struct dmarc_audit a;
    const struct pb_finding *fd;

    run("missing.example", &a);
    fd = pb_findings_find(&a.findings, "dmarc-missing", NULL);
    cr_assert(strstr(fd->remedy, "v=DMARC1; p=none; "
                                 "rua=mailto:dmarc@missing.example") != NULL,
              "%s", fd->remedy);
    cr_assert_eq(a.findings.n, 1);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, policy_none_cites_the_bulk_sender_rules)
{
    struct dmarc_audit a;
    const struct pb_finding *fd;

    run("none.example", &a);
    fd = pb_findings_find(&a.findings, "dmarc-policy-none", NULL);
    cr_assert(strstr(fd->message, "Gmail and Yahoo") != NULL);
    cr_assert(strstr(fd->remedy, "p=quarantine") != NULL);
    cr_assert_eq(a.effective, DMARC_POLICY_NONE);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, external_destinations)
{
    struct dmarc_audit a;
    const struct pb_finding *fd;

    run("ext.example", &a);
    cr_assert_eq(a.rec.nrua, 2);
    cr_assert(a.rec.rua[0].is_external);
    cr_assert_eq(a.rec.rua[0].auth, DMARC_AUTH_YES);
    cr_assert_str_eq(a.rec.rua[0].auth_name,
                     "ext.example._report._dmarc.vendor.example");
    cr_assert_eq(a.rec.rua[1].auth, DMARC_AUTH_NO);
    cr_assert_eq(a.rec.ruf[0].auth, DMARC_AUTH_NO, "NODATA: no record");
    fd = pb_findings_find(&a.findings, "dmarc-external-rua-unauthorized", NULL);
    cr_assert(strstr(fd->message, "other.example") != NULL);
    cr_assert(strstr(fd->remedy, "ext.example._report._dmarc.other.example") !=
              NULL);
    cr_assert_str_eq(fd->evidence, "mailto:b@other.example");
    cr_assert_eq(count(&a.findings, "dmarc-external-rua-unauthorized"), 1);
    dmarc_audit_release(&a);

    run("wild.example", &a);
    cr_assert_eq(a.rec.rua[0].auth, DMARC_AUTH_YES, "v=DMARC1 without ;");
    cr_assert_eq(a.status, PB_STATUS_OK);
    dmarc_audit_release(&a);

    run("sub.samecorp.example", &a);
    cr_assert_not(a.rec.rua[0].is_external, "same organizational domain");
    cr_assert_eq(a.status, PB_STATUS_OK);
    dmarc_audit_release(&a);

    run("exterr.example", &a);
    cr_assert_eq(a.rec.rua[0].auth, DMARC_AUTH_DNS_ERROR);
    fd = pb_findings_find(&a.findings, "dmarc-dns-error", NULL);
    cr_assert_not_null(fd);
    cr_assert(strstr(fd->remedy, "name servers of broken-vendor.example") !=
                  NULL,
              "%s", fd->remedy);
    cr_assert_eq(a.status, PB_STATUS_ERROR);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, destinations_past_the_limit_are_not_checked)
{
    struct dmarc_audit a;
    size_t i, checked = 0, skipped = 0;

    run("many.example", &a);
    cr_assert_eq(a.rec.nrua, 18);
    for (i = 0; i < a.rec.nrua; i++) {
        if (a.rec.rua[i].auth == DMARC_AUTH_YES)
            checked++;
        if (a.rec.rua[i].auth == DMARC_AUTH_NOT_CHECKED)
            skipped++;
    }
    cr_assert_eq(checked, DMARC_VERIFY_MAX);
    cr_assert_eq(skipped, 2);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, found_at_the_organizational_domain)
{
    struct dmarc_audit a;
    const struct pb_finding *fd;

    run("mail.orgcorp.example", &a);
    cr_assert_str_eq(a.found_by, "tree-walk");
    cr_assert_str_eq(a.found_at, "orgcorp.example");
    cr_assert_str_eq(a.found_at_psl, "orgcorp.example");
    cr_assert_str_eq(a.found_at_tree, "orgcorp.example");
    cr_assert_eq(a.effective, DMARC_POLICY_QUARANTINE, "sp applies");
    fd = pb_findings_find(&a.findings, "dmarc-found-at-org-domain", NULL);
    cr_assert(strstr(fd->message, "agree") != NULL, "%s", fd->message);
    cr_assert_null(
        pb_findings_find(&a.findings, "dmarc-org-domain-mismatch", NULL));
    dmarc_audit_release(&a);
}

Test(dmarc_audit, public_suffix_operator_policy)
{
    struct dmarc_audit a;

    run("small.bank.example", &a);
    cr_assert_str_eq(a.found_at, "bank.example");
    cr_assert_str_eq(a.org_domain_tree, "small.bank.example");
    cr_assert_str_eq(a.org_domain_psl, "bank.example");
    cr_assert_not_null(
        pb_findings_find(&a.findings, "dmarc-org-domain-mismatch", NULL));
    dmarc_audit_release(&a);

    /* B.4.3: giant.bank.example has its own record, below psd=y */
    run("giant.bank.example", &a);
    cr_assert_str_eq(a.found_by, "domain");
    cr_assert_str_eq(a.org_domain_tree, "giant.bank.example");
    dmarc_audit_release(&a);
}

Test(dmarc_audit, private_section_and_tree_walk_disagree_on_github_io)
{
    struct dmarc_audit a;

    run("user.github.io", &a);
    cr_assert_str_eq(a.found_by, "domain");
    cr_assert_str_eq(a.org_domain_psl, "user.github.io");
    cr_assert_str_eq(a.org_domain_tree, "github.io");
    dmarc_audit_release(&a);
}

Test(dmarc_audit, co_uk_subdomain_inherits_by_both_methods)
{
    struct dmarc_audit a;

    run("www.shop.example.co.uk", &a);
    cr_assert_str_eq(a.org_domain_psl, "example.co.uk");
    cr_assert_str_eq(a.org_domain_tree, "example.co.uk");
    cr_assert_str_eq(a.found_at, "example.co.uk");
    cr_assert_eq(a.walk.nsteps, 5);
    cr_assert_eq(a.status, PB_STATUS_OK);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, psd_n_below_the_registered_domain)
{
    struct dmarc_audit a;

    run("mail.div.corp.example", &a);
    cr_assert_str_eq(a.found_at, "div.corp.example");
    cr_assert_str_eq(a.org_domain_tree, "div.corp.example");
    cr_assert_str_eq(a.org_domain_psl, "corp.example");
    cr_assert_str_eq(a.found_at_psl, "corp.example");
    cr_assert_eq(count(&a.findings, "dmarc-org-domain-mismatch"), 2);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, dns_errors)
{
    struct dmarc_audit a;

    run("slow2.example", &a);
    cr_assert_not_null(pb_findings_find(&a.findings, "dmarc-dns-error", NULL));
    cr_assert_null(pb_findings_find(&a.findings, "dmarc-missing", NULL));
    cr_assert_eq(a.status, PB_STATUS_ERROR);
    dmarc_audit_release(&a);

    run("x.slowparent.example", &a);
    cr_assert_not_null(pb_findings_find(&a.findings, "dmarc-dns-error", NULL),
                       "the inherited policy is unknown");
    cr_assert_null(pb_findings_find(&a.findings, "dmarc-missing", NULL));
    dmarc_audit_release(&a);

    run("sub.slowparent.example", &a);
    cr_assert_str_eq(a.found_by, "domain");
    cr_assert_null(a.org_domain_tree);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, long_names)
{
    struct dmarc_audit a;

    run("a.b.c.d.e.f.g.h.i.j.deep.example", &a);
    cr_assert_eq(a.walk.nsteps, 8);
    cr_assert_str_eq(a.found_at, "deep.example");
    cr_assert_str_eq(a.org_domain_tree, "deep.example");
    cr_assert_str_eq(a.org_domain_psl, "deep.example");
    cr_assert_eq(a.status, PB_STATUS_OK);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, invalid_names)
{
    static const char *const bad[] = {
        "",
        ".",
        "a..b",
        "0123456789012345678901234567890123456789012345678901234567890123"
        ".example",
        "caf\xc3\xa9.example",
    };
    char longname[260];
    struct dmarc_audit a;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run(bad[i], &a);
        cr_assert_not_null(
            pb_findings_find(&a.findings, "dmarc-invalid-domain", NULL), "%zu",
            i);
        cr_assert_eq(a.status, PB_STATUS_ERROR);
        dmarc_audit_release(&a);
    }
    /* 250 octets: valid, but _dmarc. makes it too long */
    memset(longname, 'a', 250);
    for (i = 60; i < 250; i += 61)
        longname[i] = '.';
    longname[250] = '\0';
    run(longname, &a);
    cr_assert_not_null(
        pb_findings_find(&a.findings, "dmarc-invalid-domain", NULL));
    dmarc_audit_release(&a);
}

Test(dmarc_audit, cname_to_a_shared_record)
{
    struct dmarc_audit a;

    run("alias.example", &a);
    cr_assert_str_eq(a.found_by, "domain");
    cr_assert_eq(a.effective, DMARC_POLICY_QUARANTINE);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, hostile_bytes_in_the_record)
{
    struct dmarc_audit a;

    run("hostile.example", &a);
    cr_assert_str_eq(a.found_by, "domain");
    cr_assert_eq(a.effective, DMARC_POLICY_REJECT);
    cr_assert_eq(count(&a.findings, "dmarc-syntax"), 3);
    cr_assert(a.record_len > strlen(a.record), "the NUL is kept");
    dmarc_audit_release(&a);
}

/* A 64 KB TXT answer at _dmarc (the issue's bad-input list). */
Test(dmarc_audit, txt_of_64_kb)
{
    char path[] = "/tmp/test_dmarc_big_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct dns_resolver *r;
    struct dns_options opt = {.fixture = path};
    struct dmarc_audit a;
    struct pb_err err;
    size_t i;

    cr_assert_not_null(f);
    /* 256 strings of 255 bytes would pass the 64 KB RDATA limit; 250 do
       not: 63750 bytes of text */
    fprintf(f, "{\"_dmarc.big.example\": {\"TXT\": [[\"v=DMARC1; p=reject; "
               "rua=mailto:d@big.example; x=");
    for (i = 0; i < 255 - 48; i++)
        fputc('a', f);
    fputc('"', f);
    for (i = 1; i < 250; i++) {
        fputs(", \"", f);
        for (size_t k = 0; k < 255; k++)
            fputc('a', f);
        fputc('"', f);
    }
    fputs("]]}}\n", f);
    fclose(f);
    cr_assert_eq(dns_resolver_new(&opt, &r, &err), 0, "%s", err.msg);
    dmarc_audit_run(r, "big.example", &a);
    unlink(path);
    cr_assert_str_eq(a.found_by, "domain");
    cr_assert_eq(a.record_len, 250 * 255);
    cr_assert_eq(a.effective, DMARC_POLICY_REJECT);
    cr_assert_not_null(
        pb_findings_find(&a.findings, "dmarc-unknown-tag", NULL));
    cr_assert_leq(
        pb_findings_find(&a.findings, "dmarc-unknown-tag", NULL)->evidence_len,
        PB_FINDING_EVIDENCE_MAX);
    dmarc_audit_release(&a);
    dns_resolver_free(r);
}

Test(dmarc_audit, queries_go_out_in_two_batches)
{
    struct dmarc_audit a;
    size_t before = dns_resolver_sent(res);

    run("ext.example", &a);
    /* _dmarc.ext.example, _dmarc.example, then three _report names */
    cr_assert_eq(dns_resolver_sent(res) - before, 5);
    dmarc_audit_release(&a);
}

Test(dmarc_audit, release_twice_and_zeroed_are_safe)
{
    struct dmarc_audit a;

    run("ok.example", &a);
    dmarc_audit_release(&a);
    dmarc_audit_release(&a);
    dmarc_audit_release(NULL);
}

/* RFC 9989 §4.10.2: only the subdomain publishes, so it is its own
   organizational domain; the list says the registered domain. */
Test(dmarc_audit, record_only_below_the_registered_domain)
{
    struct dmarc_audit a;
    const struct pb_finding *fd;

    run("mail.noorg.example", &a);
    cr_assert_str_eq(a.org_domain_psl, "noorg.example");
    cr_assert_str_eq(a.org_domain_tree, "mail.noorg.example");
    fd = pb_findings_find(&a.findings, "dmarc-org-domain-mismatch", NULL);
    cr_assert_not_null(fd);
    cr_assert(strstr(fd->remedy, "_dmarc.noorg.example") != NULL, "%s",
              fd->remedy);
    dmarc_audit_release(&a);
}
