/* SPDX-License-Identifier: MIT */
/*
 * Tests for analyze/dns_fixture.c: the fixture format's semantics, its
 * error messages, and recording answers so they replay the same.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "dns_int.h"
#include "pb_buf.h"
#include "pb_err.h"
#include "pb_limits.h"
#include "pb_xalloc.h"
#include "testdata.h"

static struct dns_fixture *fx;
static struct dns_answer a;

static void
load(const char *rel)
{
    struct pb_err err;

    pb_err_clear(&err);
    dns_fixture_free(fx);
    fx = NULL;
    cr_assert_eq(dns_fixture_load(testdata_path(rel), &fx, &err), 0, "%s",
                 err.msg);
}

static void
load_text(const char *json)
{
    struct pb_err err;

    pb_err_clear(&err);
    dns_fixture_free(fx);
    fx = NULL;
    cr_assert_eq(dns_fixture_load_mem("t.json", json, strlen(json), &fx, &err),
                 0, "%s", err.msg);
}

static const struct dns_answer *
ask(const char *name, uint16_t type)
{
    dns_answer_release(&a);
    dns_answer_init(&a, name, type);
    dns_fixture_answer(fx, &a);
    return &a;
}

static void
fini(void)
{
    dns_answer_release(&a);
    dns_fixture_free(fx);
    fx = NULL;
}

TestSuite(dns_fixture, .fini = fini);

/* ------------------------------------------------------------------ */
/* The PRODUCT.md example                                              */

Test(dns_fixture, answers_the_product_example)
{
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

    load("dns/product-example.json");
    ask("example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 2);
    cr_assert_str_eq(a.rr[0].data, "v=spf1 ip4:192.0.2.0/24 -all");
    cr_assert_eq(a.rr[0].nstr, 1);
    cr_assert_str_eq(a.rr[1].data, "v=DKIM1; k=rsa; p=MIIBIjANBgkq...");
    cr_assert_eq(a.rr[1].nstr, 2);
    cr_assert_eq(a.rr[1].strlens[0], strlen("v=DKIM1; k=rsa; p=MIIB"));
    cr_assert_eq(a.rr[1].strlens[1], strlen("IjANBgkq..."));
    cr_assert_str_eq(a.rr[1].owner, "example.com");

    ask("example.com", DNS_TYPE_AAAA);
    cr_assert_eq(a.nrr, 1);
    cr_assert_arr_eq(a.rr[0].addr, v6, 16);
    ask("example.com", DNS_TYPE_MX);
    cr_assert_eq(a.rr[0].pref, 10);
    cr_assert_str_eq(a.rr[0].data, "mx.example.com");
    ask("example.com", DNS_TYPE_SPF);
    cr_assert_str_eq(a.rr[0].data, "v=spf1 -all");
    ask("1.2.0.192.in-addr.arpa", DNS_TYPE_PTR);
    cr_assert_str_eq(a.rr[0].data, "mail.example.com");

    ask("alias.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 2);
    cr_assert_eq(a.rr[0].type, DNS_TYPE_CNAME);
    cr_assert_eq(a.rr[1].type, DNS_TYPE_A);

    cr_assert_eq(ask("slow.example.com", DNS_TYPE_MX)->status, DNS_TIMEOUT);
    cr_assert_eq(ask("half.example.com", DNS_TYPE_A)->status, DNS_OK);
    cr_assert_eq(ask("half.example.com", DNS_TYPE_TXT)->status, DNS_TIMEOUT);
    ask("broken.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 2);
}

/* ------------------------------------------------------------------ */
/* Semantics                                                           */

Test(dns_fixture, absent_name_is_nxdomain_and_absent_type_is_nodata)
{
    load("dns/semantics.json");
    ask("nowhere.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_NXDOMAIN);
    cr_assert_eq(a.rcode, 3);
    cr_assert(dns_answer_is_void(&a));
    ask("nodata.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.rcode, 0);
    cr_assert_eq(a.nrr, 0);
    cr_assert(dns_answer_is_void(&a));
    ask("empty-types.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 0);
    /* A present name answers NODATA for every type it does not list. */
    cr_assert_eq(ask("target.example.com", DNS_TYPE_MX)->status, DNS_OK);
    cr_assert_eq(a.nrr, 0);
}

Test(dns_fixture, merges_names_that_differ_in_case_or_trailing_dot)
{
    load("dns/semantics.json");
    ask("mixed.example.com", DNS_TYPE_A);
    cr_assert_eq(a.nrr, 1);
    cr_assert_str_eq(a.rr[0].owner, "mixed.example.com");
    ask("mixed.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.nrr, 1);
    cr_assert_str_eq(a.rr[0].data, "v=spf1 -all");
}

Test(dns_fixture, follows_a_cname_chain_like_a_resolver)
{
    load("dns/semantics.json");
    ask("alias2.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 4);
    cr_assert_str_eq(a.rr[0].owner, "alias2.example.com");
    cr_assert_str_eq(a.rr[0].data, "alias1.example.com");
    cr_assert_str_eq(a.rr[1].owner, "alias1.example.com");
    cr_assert_str_eq(a.rr[1].data, "target.example.com");
    cr_assert_str_eq(a.rr[2].owner, "target.example.com");
    cr_assert_eq(dns_answer_count(&a, DNS_TYPE_A), 2);
    cr_assert_eq(dns_answer_count(&a, DNS_TYPE_CNAME), 2);

    /* NODATA at the end of the chain keeps the chain. */
    ask("alias2.example.com", DNS_TYPE_MX);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 2);
    cr_assert(dns_answer_is_void(&a));

    /* The CNAME question is not followed. */
    ask("alias2.example.com", DNS_TYPE_CNAME);
    cr_assert_eq(a.nrr, 1);
    cr_assert_str_eq(a.rr[0].data, "alias1.example.com");
}

Test(dns_fixture, chain_to_an_absent_name_is_nxdomain_with_the_chain)
{
    load("dns/semantics.json");
    ask("dangling.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_NXDOMAIN);
    cr_assert_eq(a.nrr, 1);
    cr_assert_str_eq(a.rr[0].data, "missing.example.com");
}

Test(dns_fixture, chain_to_timeout_or_servfail_takes_their_outcome)
{
    load("dns/semantics.json");
    ask("to-slow.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_TIMEOUT);
    cr_assert_eq(a.nrr, 0);
    ask("to-broken.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 2);
    cr_assert_eq(a.nrr, 0);
}

Test(dns_fixture, cname_loops_are_servfail)
{
    load("dns/semantics.json");
    ask("loop1.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 2);
    cr_assert_eq(a.nrr, 0);
    cr_assert_not_null(strstr(a.detail, "CNAME loop"), "%s", a.detail);
    ask("self.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_not_null(strstr(a.detail, "CNAME loop"));
    cr_assert(dns_answer_is_error(&a));
}

/* c0 -> c1 -> ... -> c<links>, which has an A record. */
static void
load_chain(int links)
{
    struct pb_buf b;
    int i;

    pb_buf_init(&b, 65536);
    cr_assert_eq(pb_buf_adds(&b, "{"), 0);
    for (i = 0; i < links; i++)
        cr_assert_eq(pb_buf_addf(&b,
                                 "\"c%d.test\": {\"CNAME\": [\"c%d.test\"]},",
                                 i, i + 1),
                     0);
    cr_assert_eq(
        pb_buf_addf(&b, "\"c%d.test\": {\"A\": [\"192.0.2.1\"]}}", links), 0);
    load_text(pb_buf_ptr(&b));
    pb_buf_release(&b);
}

Test(dns_fixture, follows_a_chain_exactly_at_the_limit)
{
    load_chain(PB_LIMIT_CNAME_CHAIN);
    ask("c0.test", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_OK, "%s", a.detail);
    cr_assert_eq(a.nrr, PB_LIMIT_CNAME_CHAIN + 1);
}

Test(dns_fixture, a_chain_one_over_the_limit_is_a_cname_loop)
{
    load_chain(PB_LIMIT_CNAME_CHAIN + 1);
    ask("c0.test", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 2);
    cr_assert_eq(a.nrr, 0);
    cr_assert_str_eq(a.detail,
                     "CNAME chain longer than 16 links, taken as a CNAME loop");
    /* One step in, the rest of the chain fits. */
    ask("c1.test", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_OK);
}

Test(dns_fixture, forces_rcodes_at_name_level)
{
    load("dns/semantics.json");
    ask("gone.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.status, DNS_NXDOMAIN);
    cr_assert_eq(a.rcode, 3);
    ask("numeric.example.com", DNS_TYPE_A);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 9);
    cr_assert_str_eq(dns_status_name(&a), "NOTAUTH");
    cr_assert_eq(ask("broken.example.com", DNS_TYPE_MX)->rcode, 2);
}

Test(dns_fixture, per_type_outcomes)
{
    load("dns/semantics.json");
    cr_assert_eq(ask("per-type.example.com", DNS_TYPE_A)->status, DNS_OK);
    ask("per-type.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 5);
    ask("per-type.example.com", DNS_TYPE_MX);
    cr_assert_eq(a.status, DNS_NXDOMAIN);
    ask("per-type.example.com", DNS_TYPE_AAAA);
    cr_assert_eq(a.rcode, 2);
    cr_assert_str_eq(a.detail, "recorded detail");
    ask("per-type.example.com", DNS_TYPE_NS);
    cr_assert_eq(a.status, DNS_ERROR);
    cr_assert_str_eq(a.detail, "malformed answer: CNAME loop");
    cr_assert_eq(ask("per-type.example.com", DNS_TYPE_PTR)->status,
                 DNS_TIMEOUT);
    /* NODATA for a type not listed */
    cr_assert_eq(ask("per-type.example.com", DNS_TYPE_SPF)->status, DNS_OK);
    /* A per-type outcome wins over the name's CNAME. */
    cr_assert_eq(ask("alias-timeout.example.com", DNS_TYPE_MX)->status,
                 DNS_TIMEOUT);
    cr_assert_eq(ask("alias-timeout.example.com", DNS_TYPE_A)->nrr, 3);
}

Test(dns_fixture, txt_bytes_escapes_and_hex)
{
    load("dns/semantics.json");
    ask("bytes.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a.nrr, 3);
    cr_assert_str_eq(a.rr[0].data, "caf\xc3\xa9 \"quoted\" back\\slash");
    cr_assert_eq(a.rr[1].len, 7);
    cr_assert_arr_eq(a.rr[1].data,
                     "\x00\xff"
                     "Atail",
                     7);
    cr_assert_eq(a.rr[1].nstr, 2);
    cr_assert_eq(a.rr[1].strlens[0], 3);
    cr_assert_eq(a.rr[2].len, 0);
    cr_assert_eq(a.rr[2].nstr, 1);
    cr_assert_eq(a.rr[2].strlens[0], 0);
    ask("nullmx.example.com", DNS_TYPE_MX);
    cr_assert_str_eq(a.rr[0].data, "");
}

Test(dns_fixture, splits_long_strings_into_255_byte_character_strings)
{
    char json[2048];
    char text[601];

    memset(text, 'x', 600);
    text[600] = '\0';
    snprintf(json, sizeof(json),
             "{\"t.test\": {\"TXT\": \"%.255s\", \"SPF\": [\"%.256s\", "
             "\"%s\"]}}",
             text, text, text);
    load_text(json);
    ask("t.test", DNS_TYPE_TXT);
    cr_assert_eq(a.rr[0].nstr, 1);
    cr_assert_eq(a.rr[0].strlens[0], 255);
    ask("t.test", DNS_TYPE_SPF);
    cr_assert_eq(a.rr[0].nstr, 2);
    cr_assert_eq(a.rr[0].strlens[0], 255);
    cr_assert_eq(a.rr[0].strlens[1], 1);
    cr_assert_eq(a.rr[1].nstr, 3);
    cr_assert_eq(a.rr[1].strlens[2], 90);
    cr_assert_eq(a.rr[1].len, 600);
}

/*
 * RFC 7208 test suite: "macro-mania-in-domain" resolves a name with
 * spaces, and "null-text" has an SPF record without strings.
 */
Test(dns_fixture, takes_names_with_spaces_and_records_without_strings)
{
    load_text("{\"macro%percent  space%20url-space.example.com\": "
              "{\"A\": [\"1.2.3.4\"]}, \"null.example.com\": {\"SPF\": "
              "[[\"v=spf1 ip4:\", \"192.0.2.5 -all\"], []]}}");
    cr_assert_eq(
        ask("macro%percent  space%20url-space.example.com", DNS_TYPE_A)->nrr,
        1);
    ask("null.example.com", DNS_TYPE_SPF);
    cr_assert_eq(a.nrr, 2);
    cr_assert_str_eq(a.rr[0].data, "v=spf1 ip4:192.0.2.5 -all");
    cr_assert_eq(a.rr[1].nstr, 0);
    cr_assert_eq(a.rr[1].len, 0);
}

Test(dns_fixture, accepts_type_names_in_any_case)
{
    load_text("{\"x.test\": {\"txt\": [\"a\"], \"Mx\": []}}");
    cr_assert_eq(ask("x.test", DNS_TYPE_TXT)->nrr, 1);
}

/* ------------------------------------------------------------------ */
/* Errors, with the path or line:col                                   */

struct load_case {
    char *json;
    char *msg;
};

/* Parameters reach each test's process by copy, pointers too. */
static void
load_cases_free(struct criterion_test_params *crp)
{
    struct load_case *c = crp->params;
    size_t i;

    for (i = 0; i < crp->length; i++) {
        cr_free(c[i].json);
        cr_free(c[i].msg);
    }
    cr_free(c);
}

ParameterizedTestParameters(dns_fixture, reports_shape_errors)
{
    static const char *const cases[][2] = {
        {"[]", "t.json: .: expected an object of owner names"},
        {"{\"example.com\": 5}",
         "t.json: .\"example.com\": expected \"TIMEOUT\", {\"rcode\": CODE} "
         "or an object of record types"},
        {"{\"example.com\": \"timeout\"}",
         "t.json: .\"example.com\": expected \"TIMEOUT\", {\"rcode\": CODE} "
         "or an object of record types"},
        {"{\"example.com\": {\"FOO\": []}}",
         "t.json: .\"example.com\".FOO: unknown record type (A, AAAA, CNAME, "
         "MX, NS, PTR, SPF, TXT)"},
        {"{\"example.com\": {\"SOA\": []}}",
         "t.json: .\"example.com\".SOA: unknown record type (A, AAAA, CNAME, "
         "MX, NS, PTR, SPF, TXT)"},
        {"{\"example.com\": {\"A\": [\"300.1.1.1\"]}}",
         "t.json: .\"example.com\".A[0]: expected an IPv4 address"},
        {"{\"example.com\": {\"A\": [\"::1\"]}}",
         "t.json: .\"example.com\".A[0]: expected an IPv4 address"},
        {"{\"example.com\": {\"AAAA\": [\"::1\", \"2001:db8::g\"]}}",
         "t.json: .\"example.com\".AAAA[1]: expected an IPv6 address"},
        {"{\"example.com\": {\"A\": \"192.0.2.1\"}}",
         "t.json: .\"example.com\".A: expected an array of records, "
         "\"TIMEOUT\", {\"rcode\": CODE} or {\"error\": TEXT}"},
        /* regression: fuzz_dns_fixture, empty labels did not round-trip */
        {"{\"example.com\": {\"MX\": [{\"preference\": 10, "
         "\"exchange\": \"e.com..\"}]}}",
         "t.json: .\"example.com\".MX[0].exchange: expected a domain name"},
        {"{\"example.com\": {\"PTR\": [\".x.example\"]}}",
         "t.json: .\"example.com\".PTR[0]: expected a domain name"},
        {"{\"example.com\": {\"MX\": [{\"preference\": 70000, "
         "\"exchange\": \"mx.example.com\"}]}}",
         "t.json: .\"example.com\".MX[0].preference: expected an integer "
         "0..65535"},
        {"{\"example.com\": {\"MX\": [{\"preference\": 1.5, "
         "\"exchange\": \"mx.example.com\"}]}}",
         "t.json: .\"example.com\".MX[0].preference: expected an integer "
         "0..65535"},
        {"{\"example.com\": {\"MX\": [{\"preference\": -1, "
         "\"exchange\": \"mx.example.com\"}]}}",
         "t.json: .\"example.com\".MX[0].preference: expected an integer "
         "0..65535"},
        {"{\"example.com\": {\"MX\": [{\"preference\": 10}]}}",
         "t.json: .\"example.com\".MX[0].exchange: expected a domain name"},
        {"{\"example.com\": {\"MX\": [{\"preference\": 10, \"exchange\": "
         "\"mx\", \"weight\": 1}]}}",
         "t.json: .\"example.com\".MX[0].weight: unknown key"},
        {"{\"example.com\": {\"MX\": [\"mx.example.com\"]}}",
         "t.json: .\"example.com\".MX[0]: expected {\"preference\": N, "
         "\"exchange\": NAME}"},
        {"{\"example.com\": {\"CNAME\": [\"a.test\", \"b.test\"]}}",
         "t.json: .\"example.com\".CNAME: expected an array of one name"},
        {"{\"example.com\": {\"CNAME\": [\"a.test\"], \"A\": []}}",
         "t.json: .\"example.com\": a name with a CNAME has no other "
         "records"},
        {"{\"example.com\": {\"PTR\": [7]}}",
         "t.json: .\"example.com\".PTR[0]: expected a domain name"},
        {"{\"example.com\": {\"TXT\": [7]}}",
         "t.json: .\"example.com\".TXT[0]: expected a string or an array of "
         "character-strings"},
        {"{\"example.com\": {\"TXT\": [[\"a\", 5]]}}",
         "t.json: .\"example.com\".TXT[0][1]: expected a string or "
         "{\"hex\": \"...\"}"},
        {"{\"example.com\": {\"TXT\": [[{\"hex\": \"abc\"}]]}}",
         "t.json: .\"example.com\".TXT[0][0].hex: expected an even number "
         "of hex digits, at most 510"},
        {"{\"example.com\": {\"TXT\": [[{\"hex\": \"zz\"}]]}}",
         "t.json: .\"example.com\".TXT[0][0].hex: expected hex digits"},
        {"{\"example.com\": {\"rcode\": \"BOGUS\"}}",
         "t.json: .\"example.com\".rcode: expected a response code "
         "(NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ...) or "
         "an integer 0..4095"},
        {"{\"example.com\": {\"rcode\": 4096}}",
         "t.json: .\"example.com\".rcode: expected a response code "
         "(NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ...) or "
         "an integer 0..4095"},
        {"{\"example.com\": {\"rcode\": \"SERVFAIL\", \"A\": []}}",
         "t.json: .\"example.com\": \"rcode\" cannot stand beside record "
         "types"},
        {"{\"example.com\": {\"TXT\": {\"rcode\": 2, \"foo\": 1}}}",
         "t.json: .\"example.com\".TXT.foo: unknown key"},
        {"{\"example.com\": {\"TXT\": {}}}",
         "t.json: .\"example.com\".TXT: expected {\"rcode\": CODE} or "
         "{\"error\": TEXT}"},
        {"{\"example.com\": {\"TXT\": {\"error\": 5}}}",
         "t.json: .\"example.com\".TXT.error: expected a string"},
        {"{\"bad\\tname\": {}}",
         "t.json: .\"bad\\tname\": invalid name: byte other than printable "
         "ASCII"},
        {"{\"a..b\": {}}", "t.json: .\"a..b\": invalid name: empty label"},
        {"{\"\": {}}", "t.json: .\"\": invalid name: empty name"},
        {"{\"a\\\"b\": 1}",
         "t.json: .\"a\\\"b\": expected \"TIMEOUT\", {\"rcode\": CODE} or an "
         "object of record types"},
        {"{\"caf\\u00e9\": {}}",
         "t.json: .\"caf\\xc3\\xa9\": invalid name: byte other than "
         "printable ASCII"},
        {"{\"a.com\": {\"A\": []}, \"A.COM\": {\"A\": []}}",
         "t.json: .\"A.COM\".A: A given twice for this name (keys that "
         "differ only in case or a trailing dot are one name)"},
        {"{\"a.com\": {}, \"a.com.\": \"TIMEOUT\"}",
         "t.json: .\"a.com.\": name given twice (keys that differ only in "
         "case or a trailing dot are one name)"},
        {"{\"a.com\": \"TIMEOUT\", \"A.com\": {}}",
         "t.json: .\"A.com\": name given twice (keys that differ only in "
         "case or a trailing dot are one name)"},
        {"{\"x\": {\"TXT\": \"a\\u0000b\"}}",
         "t.json:1:17: NUL is not allowed (write such bytes of a TXT record "
         "as {\"hex\": \"...\"})"},
        {"", "t.json:1:1: not valid JSON"},
        {"{} x", "t.json:1:4: not valid JSON"},
        {"{\n  \"a\": {\n    \"A\": [1,]\n  }\n}",
         "t.json:3:13: not valid JSON"},
    };

    size_t i, n = sizeof(cases) / sizeof(cases[0]);
    struct load_case *c = cr_malloc(n * sizeof(*c));

    for (i = 0; i < n; i++) {
        c[i].json = testdata_param_strdup(cases[i][0]);
        c[i].msg = testdata_param_strdup(cases[i][1]);
    }
    return cr_make_param_array(struct load_case, c, n, load_cases_free);
}

ParameterizedTest(struct load_case *c, dns_fixture, reports_shape_errors)
{
    struct pb_err err;
    struct dns_fixture *f = NULL;

    pb_err_clear(&err);
    cr_assert_eq(
        dns_fixture_load_mem("t.json", c->json, strlen(c->json), &f, &err), -1,
        "loaded: %s", c->json);
    cr_assert_null(f);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG);
    cr_assert_eq(err.code, PB_E_SYNTAX);
    cr_assert_str_eq(err.msg, c->msg);
}

Test(dns_fixture, reports_line_and_column_of_a_syntax_error_in_a_file)
{
    struct pb_err err;
    char want[512];

    pb_err_clear(&err);
    cr_assert_eq(
        dns_fixture_load(testdata_path("dns/bad-syntax.json"), &fx, &err), -1);
    cr_assert_null(fx);
    snprintf(want, sizeof(want), "%s:3:23: not valid JSON",
             testdata_path("dns/bad-syntax.json"));
    cr_assert_str_eq(err.msg, want);
}

Test(dns_fixture, reports_the_path_of_a_shape_error_in_a_file)
{
    struct pb_err err;
    char want[512];

    pb_err_clear(&err);
    cr_assert_eq(dns_fixture_load(testdata_path("dns/bad-mx.json"), &fx, &err),
                 -1);
    snprintf(want, sizeof(want),
             "%s: .\"example.com\".MX[0].preference: expected an integer "
             "0..65535",
             testdata_path("dns/bad-mx.json"));
    cr_assert_str_eq(err.msg, want);
}

Test(dns_fixture, reports_a_missing_file)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(dns_fixture_load("/nonexistent/dns.json", &fx, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_str_eq(err.msg, "cannot read DNS fixture /nonexistent/dns.json: "
                              "No such file or directory");
}

Test(dns_fixture, accepts_exactly_the_record_limit_per_type)
{
    struct pb_buf b;
    int i;

    pb_buf_init(&b, 65536);
    cr_assert_eq(pb_buf_adds(&b, "{\"x.test\": {\"A\": ["), 0);
    for (i = 0; i < PB_LIMIT_DNS_RRS; i++)
        cr_assert_eq(
            pb_buf_addf(&b, "%s\"10.0.%d.%d\"", i ? "," : "", i / 256, i % 256),
            0);
    cr_assert_eq(pb_buf_adds(&b, "]}}"), 0);
    load_text(pb_buf_ptr(&b));
    cr_assert_eq(ask("x.test", DNS_TYPE_A)->nrr, PB_LIMIT_DNS_RRS);
    pb_buf_release(&b);
}

Test(dns_fixture, rejects_one_record_over_the_limit_per_type)
{
    struct pb_err err;
    struct pb_buf b;
    int i;

    pb_buf_init(&b, 65536);
    cr_assert_eq(pb_buf_adds(&b, "{\"x.test\": {\"A\": ["), 0);
    for (i = 0; i <= PB_LIMIT_DNS_RRS; i++)
        cr_assert_eq(
            pb_buf_addf(&b, "%s\"10.0.%d.%d\"", i ? "," : "", i / 256, i % 256),
            0);
    cr_assert_eq(pb_buf_adds(&b, "]}}"), 0);
    pb_err_clear(&err);
    cr_assert_eq(
        dns_fixture_load_mem("t.json", pb_buf_ptr(&b), b.len, &fx, &err), -1);
    cr_assert_str_eq(err.msg, "t.json: .\"x.test\".A: more than 512 records");
    pb_buf_release(&b);
}

Test(dns_fixture, rejects_a_character_string_of_256_bytes_given_as_one)
{
    struct pb_err err;
    char json[700];
    char text[257];

    memset(text, 'y', 256);
    text[256] = '\0';
    snprintf(json, sizeof(json), "{\"x.test\": {\"TXT\": [[\"%.255s\"]]}}",
             text);
    load_text(json);
    snprintf(json, sizeof(json), "{\"x.test\": {\"TXT\": [[\"%s\"]]}}", text);
    pb_err_clear(&err);
    dns_fixture_free(fx);
    fx = NULL;
    cr_assert_eq(dns_fixture_load_mem("t.json", json, strlen(json), &fx, &err),
                 -1);
    cr_assert_str_eq(err.msg, "t.json: .\"x.test\".TXT[0][0]: "
                              "character-string longer than 255 bytes");
}

Test(dns_fixture, rejects_a_txt_record_over_65535_bytes)
{
    struct pb_err err;
    struct pb_buf b;
    size_t n;

    /* 65535 bytes of RDATA hold 65279 text bytes and 256 length bytes. */
    for (n = 65279; n <= 65280; n++) {
        size_t start;

        pb_buf_init(&b, 70000);
        cr_assert_eq(pb_buf_adds(&b, "{\"x.test\": {\"TXT\": \""), 0);
        start = b.len;
        while (b.len < start + n)
            cr_assert_eq(pb_buf_addc(&b, 'z'), 0);
        cr_assert_eq(pb_buf_adds(&b, "\"}}"), 0);
        pb_err_clear(&err);
        dns_fixture_free(fx);
        fx = NULL;
        cr_assert_eq(
            dns_fixture_load_mem("t.json", pb_buf_ptr(&b), b.len, &fx, &err),
            n == 65279 ? 0 : -1, "%zu: %s", n, err.msg);
        pb_buf_release(&b);
    }
    cr_assert_str_eq(err.msg,
                     "t.json: .\"x.test\".TXT: record longer than 65535 bytes");
}

Test(dns_fixture, rejects_a_file_over_the_size_limit)
{
    char path[] = "/tmp/test_dns_fixture_XXXXXX";
    struct pb_err err;
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    /* Sparse: nothing is written, the reader stops at the limit. */
    cr_assert_eq(ftruncate(fd, (off_t)PB_LIMIT_FIXTURE_BYTES + 1), 0);
    close(fd);
    pb_err_clear(&err);
    cr_assert_eq(dns_fixture_load(path, &fx, &err), -1);
    unlink(path);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_eq(dns_fixture_load_mem("t.json", "{}",
                                      (size_t)PB_LIMIT_FIXTURE_BYTES + 1, &fx,
                                      &err),
                 -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "t.json: over the limit of 67108864 bytes");
}

Test(dns_fixture, accepts_a_file_exactly_at_the_size_limit)
{
    size_t n = PB_LIMIT_FIXTURE_BYTES;
    char *big = malloc(n);
    struct pb_err err;

    cr_assert_not_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"x.test\": {}}", 14);
    pb_err_clear(&err);
    cr_assert_eq(dns_fixture_load_mem("t.json", big, n, &fx, &err), 0, "%s",
                 err.msg);
    free(big);
    cr_assert_eq(ask("x.test", DNS_TYPE_A)->status, DNS_OK);
}

/* ------------------------------------------------------------------ */
/* Recording                                                           */

static void
add_txt(struct dns_answer *ans, const void *p, size_t len,
        const size_t *strlens, size_t nstr)
{
    struct dns_rr rr = {.type = DNS_TYPE_TXT, .len = len, .nstr = nstr};

    rr.owner = pb_xstrdup(ans->qname);
    rr.data = pb_xmemdup(p, len);
    rr.strlens = pb_xreallocarray(NULL, nstr, sizeof(size_t));
    memcpy(rr.strlens, strlens, nstr * sizeof(size_t));
    dns_answer_add_rr(ans, &rr);
    dns_rr_release(&rr);
}

static void
add_name(struct dns_answer *ans, uint16_t type, uint16_t pref,
         const char *owner, const char *name)
{
    struct dns_rr rr = {.type = type, .pref = pref};

    rr.owner = pb_xstrdup(owner);
    rr.data = pb_xstrdup(name);
    rr.len = strlen(name);
    dns_answer_add_rr(ans, &rr);
    dns_rr_release(&rr);
}

static void
assert_same_answer(const struct dns_answer *x, const struct dns_answer *y)
{
    size_t i;

    cr_assert_str_eq(x->qname, y->qname);
    cr_assert_eq(x->qtype, y->qtype);
    cr_assert_eq(x->status, y->status, "%s %s: %s vs %s", x->qname,
                 dns_type_name(x->qtype), dns_status_name(x),
                 dns_status_name(y));
    cr_assert_eq(x->rcode, y->rcode, "%s", x->qname);
    if (x->status != DNS_TIMEOUT)
        cr_assert_str_eq(x->detail, y->detail);
    cr_assert_eq(x->nrr, y->nrr, "%s %s", x->qname, dns_type_name(x->qtype));
    for (i = 0; i < x->nrr; i++) {
        const struct dns_rr *p = &x->rr[i], *q = &y->rr[i];

        cr_assert_eq(p->type, q->type);
        cr_assert_str_eq(p->owner, q->owner);
        cr_assert_eq(p->pref, q->pref);
        cr_assert_arr_eq(p->addr, q->addr, sizeof(p->addr));
        cr_assert_eq(p->len, q->len, "%s", x->qname);
        if (p->len > 0)
            cr_assert_arr_eq(p->data, q->data, p->len);
        cr_assert_eq(p->nstr, q->nstr, "%s", x->qname);
        if (p->nstr > 0)
            cr_assert_arr_eq(p->strlens, q->strlens, p->nstr * sizeof(size_t));
    }
}

/* Record answers, load the recording, and ask the same questions. */
static char *
record_and_replay(struct dns_answer *const *ans, size_t n)
{
    char path[] = "/tmp/test_dns_record_XXXXXX";
    struct pb_err err;
    size_t i, len;
    int fd = mkstemp(path);
    char *text;

    cr_assert_geq(fd, 0);
    close(fd);
    pb_err_clear(&err);
    cr_assert_eq(dns_fixture_record((const struct dns_answer *const *)ans, n,
                                    path, &err),
                 0, "%s", err.msg);
    text = testdata_read(path, &len);
    cr_assert_not_null(text);
    dns_fixture_free(fx);
    fx = NULL;
    cr_assert_eq(dns_fixture_load(path, &fx, &err), 0, "%s\n%s", err.msg, text);
    unlink(path);
    for (i = 0; i < n; i++) {
        ask(ans[i]->qname, ans[i]->qtype);
        assert_same_answer(ans[i], &a);
    }
    return text;
}

Test(dns_fixture, records_wire_answers_so_they_replay_the_same)
{
    static const size_t two[] = {3, 4};
    static const size_t split[] = {255, 45};
    static const size_t uneven[] = {100, 200};
    static const size_t one_nul[] = {5};
    static const size_t latin1[] = {4};
    static const size_t word[] = {7};
    static char longtxt[300];
    struct dns_answer ans[12];
    struct dns_answer *p[12];
    struct dns_rr rr = {.type = DNS_TYPE_A};
    char *text;
    size_t i;

    memset(longtxt, 'L', sizeof(longtxt));
    for (i = 0; i < 12; i++)
        p[i] = &ans[i];
    /* 0: TXT records: several strings, NUL, 255-splits, not UTF-8 */
    dns_answer_init(&ans[0], "example.com", DNS_TYPE_TXT);
    dns_answer_set(&ans[0], DNS_OK, 0, "%s", "");
    add_txt(&ans[0], "abcdefg", 7, two, 2);
    add_txt(&ans[0], "a\0b\"c", 5, one_nul, 1);
    add_txt(&ans[0], longtxt, 300, split, 2);
    add_txt(&ans[0], longtxt, 300, uneven, 2);
    add_txt(&ans[0], "caf\xe9", 4, latin1, 1);
    add_txt(&ans[0], "TIMEOUT", 7, word, 1);
    /* 1: a chain alias -> mid -> end with A at the end */
    dns_answer_init(&ans[1], "alias.example.com", DNS_TYPE_A);
    dns_answer_set(&ans[1], DNS_OK, 0, "%s", "");
    add_name(&ans[1], DNS_TYPE_CNAME, 0, "alias.example.com",
             "mid.example.org");
    add_name(&ans[1], DNS_TYPE_CNAME, 0, "mid.example.org", "end.example.net");
    rr.owner = pb_xstrdup("end.example.net");
    memcpy(rr.addr, "\xc0\x00\x02\x01", 4);
    dns_answer_add_rr(&ans[1], &rr);
    dns_rr_release(&rr);
    /* 2: NXDOMAIN through a chain */
    dns_answer_init(&ans[2], "dangling.example.com", DNS_TYPE_MX);
    dns_answer_set(&ans[2], DNS_NXDOMAIN, 3, "%s", "");
    add_name(&ans[2], DNS_TYPE_CNAME, 0, "dangling.example.com",
             "gone.example.com");
    /* 3: NXDOMAIN of a name that has data for another type */
    dns_answer_init(&ans[3], "end.example.net", DNS_TYPE_TXT);
    dns_answer_set(&ans[3], DNS_NXDOMAIN, 3, "%s", "");
    /* 4: NODATA */
    dns_answer_init(&ans[4], "nodata.example.com", DNS_TYPE_AAAA);
    dns_answer_set(&ans[4], DNS_OK, 0, "%s", "");
    /* 5: timeout, 6: REFUSED, 7: an error with its detail */
    dns_answer_init(&ans[5], "slow.example.com", DNS_TYPE_A);
    dns_answer_set(&ans[5], DNS_TIMEOUT, -1, "no answer within 4000 ms");
    dns_answer_init(&ans[6], "example.com", DNS_TYPE_MX);
    dns_answer_set(&ans[6], DNS_RCODE, 5, "%s", "");
    dns_answer_init(&ans[7], "example.com", DNS_TYPE_NS);
    dns_answer_set(&ans[7], DNS_ERROR, -1, "malformed answer: CNAME loop");
    /* 8: an unnamed rcode; 9: MX with null MX and an odd exchange */
    dns_answer_init(&ans[8], "odd.example.com", DNS_TYPE_A);
    dns_answer_set(&ans[8], DNS_RCODE, 11, "%s", "");
    dns_answer_init(&ans[9], "mx.example.com", DNS_TYPE_MX);
    dns_answer_set(&ans[9], DNS_OK, 0, "%s", "");
    add_name(&ans[9], DNS_TYPE_MX, 0, "mx.example.com", "");
    add_name(&ans[9], DNS_TYPE_MX, 65535, "mx.example.com",
             "we\"ird\\name\x01");
    /* 10: the CNAME question itself; 11: SERVFAIL with a detail */
    dns_answer_init(&ans[10], "alias.example.com", DNS_TYPE_CNAME);
    dns_answer_set(&ans[10], DNS_OK, 0, "%s", "");
    add_name(&ans[10], DNS_TYPE_CNAME, 0, "alias.example.com",
             "mid.example.org");
    dns_answer_init(&ans[11], "loop.example.com", DNS_TYPE_TXT);
    dns_answer_set(&ans[11], DNS_RCODE, 2, "CNAME loop at loop.example.com");

    text = record_and_replay(p, 12);
    /* The recording is readable JSON, two-space indented. */
    cr_assert_not_null(strstr(text, "{\n  \"example.com\": {\n    \"TXT\": ["),
                       "%s", text);
    cr_assert_not_null(strstr(text, "\"TIMEOUT\""));
    cr_assert_not_null(strstr(text, "{\"hex\": \"610062226"), "%s", text);
    cr_assert_not_null(strstr(text, "\"dangling.example.com\": {\n    "
                                    "\"CNAME\": [\"gone.example.com\"]\n  }"));
    cr_assert_null(strstr(text, "\"gone.example.com\":"), "%s", text);
    cr_assert_not_null(strstr(text, "\"TXT\": {\"rcode\": \"NXDOMAIN\"}"));
    cr_assert_not_null(strstr(text, "\"nodata.example.com\": {}"));
    cr_assert_not_null(strstr(text, "{\"rcode\": 11}"));
    free(text);
    for (i = 0; i < 12; i++)
        dns_answer_release(&ans[i]);
}

Test(dns_fixture, records_an_empty_run_as_an_empty_object)
{
    char *text = record_and_replay(NULL, 0);

    cr_assert_str_eq(text, "{}\n");
    free(text);
}

Test(dns_fixture, recording_reports_an_unwritable_path)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(dns_fixture_record(NULL, 0, "/nonexistent/dir/rec.json", &err),
                 -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_str_eq(err.msg, "cannot write /nonexistent/dir/rec.json: No "
                              "such file or directory");
}

/* ------------------------------------------------------------------ */
/* Regressions                                                         */

/*
 * Found by fuzz_dns_fixture: a record's name with bytes that are not
 * UTF-8 was recorded as "\u00ff", which reads back as two bytes.  Names
 * that are not text are now written, and read, as {"hex": "..."}.
 */
Test(dns_fixture, regression_names_that_are_not_utf8_record_losslessly)
{
    struct dns_answer ans, *p = &ans;
    char *text;

    load_text("{\"example.com\": {\"MX\": [{\"preference\": 10, "
              "\"exchange\": \"mx.ex\xff\xff"
              "ample.com\"}], "
              "\"NS\": [{\"hex\": \"6e73ff2e74657374\"}]}}");
    ask("example.com", DNS_TYPE_NS);
    cr_assert_str_eq(a.rr[0].data, "ns\xff.test");
    dns_answer_init(&ans, "example.com", DNS_TYPE_MX);
    dns_fixture_answer(fx, &ans);
    cr_assert_str_eq(ans.rr[0].data, "mx.ex\xff\xff"
                                     "ample.com");
    text = record_and_replay(&p, 1);
    cr_assert_not_null(strstr(text, "\"exchange\": {\"hex\": "), "%s", text);
    free(text);
    dns_answer_release(&ans);
}

/*
 * PRODUCT.md's example writes a TXT record as a bare string and another
 * as an array: the bare top-level array elements are records, each string
 * one record, not character-strings of one record.
 */
Test(dns_fixture, regression_txt_array_of_strings_is_a_list_of_records)
{
    load_text("{\"x.test\": {\"TXT\": [\"v=spf1 a\", \" -all\"]}}");
    ask("x.test", DNS_TYPE_TXT);
    cr_assert_eq(a.nrr, 2);
    cr_assert_str_eq(a.rr[1].data, " -all");
}
