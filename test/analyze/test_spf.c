/* SPDX-License-Identifier: MIT */
/* check_host() behaviour beyond the conformance suites: the trace, the
 * counters, explanations, loops, and the sender forms of RFC 7208 §4.3. */
#include <criterion/criterion.h>
#include <string.h>

#include "analyze.h"
#include "testdata.h"

static struct dns_resolver *resolver;

static void
setup(void)
{
    resolver = testdata_resolver("spf/engine.json");
    cr_assert_not_null(resolver);
}

static void
teardown(void)
{
    dns_resolver_free(resolver);
}

TestSuite(spf, .init = setup, .fini = teardown);

static void
check(const char *ip, const char *sender, const char *helo,
      struct spf_check *out)
{
    struct spf_request req = {.sender = sender, .helo = helo, .now = 1};
    struct pb_err err;

    cr_assert_eq(ipaddr_parse(ip, &req.ip), 0);
    cr_assert_eq(spf_check_host(resolver, &req, out, &err), 0, "%s", err.msg);
}

Test(spf, include_pass_is_traced_with_counts)
{
    struct spf_check c;
    const struct spf_term *t;

    check("203.0.113.7", "alice@example.com", NULL, &c);
    cr_assert_eq(c.result, SPF_PASS);
    cr_assert_eq(c.dns_lookups, 1);
    cr_assert_eq(c.void_lookups, 0);
    cr_assert_str_eq(c.root->record, "v=spf1 include:_spf.example.net mx/30 "
                                     "-all");
    cr_assert_eq(c.root->nterms, 3);
    t = &c.root->terms[0];
    cr_assert_eq(t->outcome, SPF_TERM_MATCH);
    cr_assert_not_null(t->child);
    cr_assert_str_eq(t->child->domain, "_spf.example.net");
    cr_assert_eq(t->child->result, SPF_PASS);
    cr_assert_eq(c.root->terms[1].outcome, SPF_TERM_SKIPPED);
    cr_assert_eq(c.root->terms[2].outcome, SPF_TERM_SKIPPED);
    cr_assert_null(c.explanation);
    spf_check_release(&c);
}

Test(spf, mx_cidr_matches_the_second_host)
{
    struct spf_check c;

    check("198.51.100.22", "alice@example.com", NULL, &c);
    cr_assert_eq(c.result, SPF_PASS, "%s", c.reason);
    cr_assert_eq(c.dns_lookups, 2);
    cr_assert_eq(c.root->terms[1].outcome, SPF_TERM_MATCH);
    cr_assert_geq(c.root->terms[1].nlookups, 3, "MX and two A lookups");
    spf_check_release(&c);
}

Test(spf, fail_gets_a_default_explanation)
{
    struct spf_check c;

    check("192.0.2.200", "alice@example.com", NULL, &c);
    cr_assert_eq(c.result, SPF_FAIL);
    cr_assert_not(c.explanation_from_exp);
    cr_assert_str_eq(c.explanation, "the SPF record of example.com does not "
                                    "authorize 192.0.2.200 to send mail as "
                                    "alice@example.com");
    cr_assert_str_eq(c.reason, "matched -all");
    spf_check_release(&c);
}

Test(spf, exp_text_is_expanded)
{
    struct spf_check c;

    check("192.0.2.1", "bob@exp.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_FAIL);
    cr_assert(c.explanation_from_exp);
    cr_assert_str_eq(c.explanation, "192.0.2.1 may not send for "
                                    "exp.example.org (sender "
                                    "bob@exp.example.org)");
    spf_check_release(&c);
}

Test(spf, redirect_takes_the_target_result)
{
    struct spf_check c;

    check("192.0.2.10", "x@redir.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_PASS);
    cr_assert_eq(c.dns_lookups, 3, "redirect, include, mx");
    spf_check_release(&c);
}

Test(spf, include_loop_is_a_permerror_that_says_loop)
{
    struct spf_check c;

    check("192.0.2.1", "x@loop.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_PERMERROR);
    cr_assert(strstr(c.reason, "include:loop2.example.org") != NULL, "%s",
              c.reason);
    cr_assert(strstr(c.root->terms[0].child->terms[0].child->reason, "loop") !=
              NULL);
    spf_check_release(&c);
}

Test(spf, third_void_lookup_is_a_permerror)
{
    struct spf_check c;

    check("192.0.2.1", "x@voids.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_PERMERROR);
    cr_assert_eq(c.void_lookups, 3);
    cr_assert(c.root->terms[0].lookups[0].is_void);
    cr_assert(strstr(c.reason, "void") != NULL, "%s", c.reason);
    spf_check_release(&c);
}

Test(spf, null_mx_does_not_match_and_is_not_fatal)
{
    struct spf_check c;

    check("192.0.2.99", "x@nullmx.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_PASS, "%s", c.reason);
    spf_check_release(&c);
}

Test(spf, timeout_in_include_is_temperror)
{
    struct spf_check c;

    check("192.0.2.1", "x@slow.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_TEMPERROR);
    spf_check_release(&c);
}

Test(spf, helo_identity_when_sender_is_null)
{
    struct spf_check c;

    check("192.0.2.50", "", "mail.example.org", &c);
    cr_assert_eq(c.result, SPF_PASS);
    cr_assert_str_eq(c.sender, "postmaster@mail.example.org");
    spf_check_release(&c);
}

Test(spf, sender_without_at_is_postmaster_at_domain)
{
    struct spf_check c;

    check("192.0.2.1", "bare.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_PASS, "%s", c.reason);
    cr_assert_str_eq(c.sender, "postmaster@bare.example.org");
    spf_check_release(&c);
}

Test(spf, ipv4_mapped_client_is_checked_as_ipv4)
{
    struct spf_check c;

    check("::ffff:203.0.113.9", "alice@example.com", NULL, &c);
    cr_assert_eq(c.result, SPF_PASS);
    spf_check_release(&c);
}

Test(spf, missing_domain_is_none)
{
    struct spf_check c;

    check("192.0.2.1", "a@nonexistent.example.org", NULL, &c);
    cr_assert_eq(c.result, SPF_NONE);
    spf_check_release(&c);
}

Test(spf, no_sender_and_no_helo_is_a_usage_error)
{
    struct spf_request req = {.sender = ""};
    struct spf_check c;
    struct pb_err err;

    ipaddr_parse("192.0.2.1", &req.ip);
    cr_assert_eq(spf_check_host(resolver, &req, &c, &err), -1);
    cr_assert_eq(err.code, PB_E_USAGE);
}
