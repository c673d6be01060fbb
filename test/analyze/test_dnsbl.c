/* SPDX-License-Identifier: MIT */
/*
 * The block list check (analyze/dnsbl.c): the zone spec parser (valid,
 * invalid, at and over its limits), the default zones and their codes,
 * and the audit against test/data/hosts/dnsbl.json: one case for every
 * dnsbl-* finding id, IPv6, and hostile answers (8.8.8.8, Spamhaus'
 * 127.255.255.x, 100 A records, NUL and escape bytes in TXT, timeouts).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "testdata.h"

static struct dns_resolver *resolver;
static struct dnsbl_audit audit;

static void
setup(void)
{
    resolver = testdata_resolver("hosts/dnsbl.json");
    cr_assert_not_null(resolver);
}

static void
teardown(void)
{
    dnsbl_audit_release(&audit);
    dns_resolver_free(resolver);
    resolver = NULL;
}

TestSuite(dnsbl, .init = setup, .fini = teardown);

static const struct dnsbl_audit *
run_zones(const char *domain, const char *const *ips, size_t nips,
          const struct dnsbl_zone *zones, size_t nzones)
{
    struct ipaddr v[16];
    size_t i;

    cr_assert(nips <= 16);
    for (i = 0; i < nips; i++)
        cr_assert_eq(ipaddr_parse(ips[i], &v[i]), 0, "%s", ips[i]);
    dnsbl_audit_release(&audit);
    dnsbl_audit_run(resolver, domain, v, nips, zones, nzones, &audit);
    return &audit;
}

/* The default zones. */
static const struct dnsbl_audit *
run(const char *domain, const char *const *ips, size_t nips)
{
    size_t nz;
    const struct dnsbl_zone *z = dnsbl_default_zones(&nz);

    return run_zones(domain, ips, nips, z, nz);
}

static const struct dnsbl_audit *
run_ip(const char *ip)
{
    return run(NULL, &ip, 1);
}

/* The result for (target, zone), which must exist. */
static const struct dnsbl_result *
result(const struct dnsbl_audit *a, const char *target, const char *zone)
{
    size_t i;

    for (i = 0; i < a->nresults; i++)
        if (strcmp(a->results[i].target, target) == 0 &&
            strcmp(a->zones[a->results[i].zone].zone, zone) == 0)
            return &a->results[i];
    cr_assert_fail("no result for %s on %s", target, zone);
    return NULL;
}

static const struct pb_finding *
must_find(const struct pb_findings *f, const char *id, enum pb_severity sev)
{
    return testdata_finding(f, "dnsbl", id, sev);
}

static void
assert_code(const struct dnsbl_answer_code *c, const char *text)
{
    char buf[64];

    ipaddr_format(&c->addr, buf, sizeof(buf));
    cr_assert_str_eq(buf, text);
}

/* ------------------------------------------------------------------ */
/* Default zones                                                       */

Test(dnsbl_default_zones, are_zen_dbl_barracuda_spamcop)
{
    size_t n;
    const struct dnsbl_zone *z = dnsbl_default_zones(&n);

    cr_assert_eq(n, 4);
    cr_assert_str_eq(z[0].zone, "zen.spamhaus.org");
    cr_assert_eq(z[0].kind, DNSBL_KIND_IP);
    cr_assert(z[0].lists_ipv6);
    cr_assert(z[0].is_spamhaus);
    cr_assert_str_eq(z[1].zone, "dbl.spamhaus.org");
    cr_assert_eq(z[1].kind, DNSBL_KIND_DOMAIN);
    cr_assert_str_eq(z[2].zone, "b.barracudacentral.org");
    cr_assert_not(z[2].lists_ipv6);
    cr_assert_str_eq(z[3].zone, "bl.spamcop.net");
    cr_assert_not(z[3].is_spamhaus);
}

/* ------------------------------------------------------------------ */
/* dnsbl_zone_parse                                                    */

Test(dnsbl_zone_parse, bare_zone_is_an_ip_list)
{
    struct dnsbl_zone z;
    struct pb_err err;

    cr_assert_eq(dnsbl_zone_parse("bl.lab.example", &z, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(z.zone, "bl.lab.example");
    cr_assert_eq(z.kind, DNSBL_KIND_IP);
    cr_assert_null(z.codes);
    cr_assert_null(z.name);
    cr_assert_not(z.lists_ipv6);
}

Test(dnsbl_zone_parse, prefixes_set_the_kind)
{
    struct dnsbl_zone z;
    struct pb_err err;

    cr_assert_eq(dnsbl_zone_parse("ip:bl.lab.example", &z, &err), 0);
    cr_assert_eq(z.kind, DNSBL_KIND_IP);
    cr_assert_eq(dnsbl_zone_parse("domain:rhsbl.lab.example", &z, &err), 0);
    cr_assert_eq(z.kind, DNSBL_KIND_DOMAIN);
    cr_assert_str_eq(z.zone, "rhsbl.lab.example");
    cr_assert_eq(dnsbl_zone_parse("DOMAIN:rhsbl.lab.example", &z, &err), 0);
    cr_assert_eq(z.kind, DNSBL_KIND_DOMAIN);
    cr_assert_eq(dnsbl_zone_parse("Ip:bl.lab.example", &z, &err), 0);
    cr_assert_eq(z.kind, DNSBL_KIND_IP);
}

Test(dnsbl_zone_parse, case_and_trailing_dot_are_normalised)
{
    struct dnsbl_zone z;
    struct pb_err err;

    cr_assert_eq(dnsbl_zone_parse("BL.Lab.Example.", &z, &err), 0);
    cr_assert_str_eq(z.zone, "bl.lab.example");
    cr_assert_eq(dnsbl_zone_parse("_bl.lab-1.example", &z, &err), 0);
}

Test(dnsbl_zone_parse, known_zone_gets_its_codes)
{
    struct dnsbl_zone z;
    struct pb_err err;

    cr_assert_eq(dnsbl_zone_parse("ZEN.spamhaus.org.", &z, &err), 0);
    cr_assert_str_eq(z.name, "Spamhaus ZEN");
    cr_assert_not_null(z.codes);
    cr_assert(z.lists_ipv6);
    cr_assert_eq(dnsbl_zone_parse("domain:dbl.spamhaus.org", &z, &err), 0);
    cr_assert_str_eq(z.name, "Spamhaus DBL");
    /* the same zone as the other kind is a list we know nothing of */
    cr_assert_eq(dnsbl_zone_parse("domain:zen.spamhaus.org", &z, &err), 0);
    cr_assert_null(z.codes);
    cr_assert_eq(z.kind, DNSBL_KIND_DOMAIN);
}

Test(dnsbl_zone_parse, zone_at_the_length_limit)
{
    char spec[DNSBL_ZONE_MAX + 16];
    struct dnsbl_zone z;
    struct pb_err err;

    /* 3 labels of 63 octets + 2 dots = 191, then ".x...": 237 in all */
    memset(spec, 'a', sizeof(spec));
    spec[63] = '.';
    spec[127] = '.';
    spec[191] = '.';
    spec[DNSBL_ZONE_MAX] = '\0';
    cr_assert_eq(strlen(spec), 237);
    cr_assert_eq(dnsbl_zone_parse(spec, &z, &err), 0, "%s", err.msg);
    cr_assert_eq(strlen(z.zone), 237);
    /* a trailing dot does not count */
    spec[DNSBL_ZONE_MAX] = '.';
    spec[DNSBL_ZONE_MAX + 1] = '\0';
    cr_assert_eq(dnsbl_zone_parse(spec, &z, &err), 0, "%s", err.msg);
    /* one octet over */
    spec[DNSBL_ZONE_MAX] = 'a';
    cr_assert_eq(dnsbl_zone_parse(spec, &z, &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_not_null(strstr(err.msg, "longer than 237"));
}

Test(dnsbl_zone_parse, label_at_the_length_limit)
{
    char spec[80];
    struct dnsbl_zone z;
    struct pb_err err;

    memset(spec, 'l', 63);
    strcpy(spec + 63, ".example");
    cr_assert_eq(dnsbl_zone_parse(spec, &z, &err), 0, "%s", err.msg);
    memset(spec, 'l', 64);
    strcpy(spec + 64, ".example");
    cr_assert_eq(dnsbl_zone_parse(spec, &z, &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_not_null(strstr(err.msg, "63 octets"));
}

struct bad_spec {
    const char *spec;
    const char *why;
};

static const struct bad_spec bad_specs[] = {
    {"", "empty"},
    {"ip:", "empty zone"},
    {"domain:.", "empty zone"},
    {"foo:bl.example", "unknown list kind"},
    {":bl.example", "unknown list kind"},
    {"ip:ip:bl.example", "byte other than"},
    {"bl..example", "empty label"},
    {".bl.example", "empty label"},
    {"bl.example..", "empty label"},
    {"-bl.example", "starts with '-'"},
    {"bl-.example", "ends with '-'"},
    {"bl.example-", "ends with '-'"},
    {"bl example.com", "byte other than"},
    {"bl.exa\001mple", "byte other than"},
    {"bl.ex\xc3\xa4mple", "byte other than"},
    {"bl/24.example", "byte other than"},
    {"single", "two labels"},
    {"single.", "two labels"},
    {"bl.example\n", "byte other than"},
};

ParameterizedTestParameters(dnsbl_zone_parse, rejects)
{
    return testdata_index_params(sizeof(bad_specs) / sizeof(bad_specs[0]));
}

ParameterizedTest(size_t *i, dnsbl_zone_parse, rejects)
{
    const struct bad_spec *c = &bad_specs[*i];
    struct dnsbl_zone z;
    struct pb_err err;
    size_t k;

    pb_err_clear(&err);
    cr_assert_eq(dnsbl_zone_parse(c->spec, &z, &err), -1, "accepted '%s'",
                 c->spec);
    cr_assert_eq(err.stage, PB_STAGE_USAGE);
    cr_assert_eq(err.code, PB_E_USAGE);
    cr_assert_not_null(strstr(err.msg, c->why), "'%s': %s", c->spec, err.msg);
    /* the message is printable ASCII, the spec escaped in it */
    for (k = 0; err.msg[k] != '\0'; k++)
        cr_assert(err.msg[k] >= 0x20 && err.msg[k] < 0x7f, "%s", err.msg);
}

Test(dnsbl_zone_parse, null_spec_and_null_err)
{
    struct dnsbl_zone z;

    cr_assert_eq(dnsbl_zone_parse(NULL, &z, NULL), -1);
    cr_assert_eq(dnsbl_zone_parse("x", &z, NULL), -1);
}

Test(dnsbl_zone_parse, long_hostile_spec_is_cut_in_the_message)
{
    char spec[5000];
    struct dnsbl_zone z;
    struct pb_err err;

    memset(spec, '\377', sizeof(spec) - 1);
    spec[sizeof(spec) - 1] = '\0';
    cr_assert_eq(dnsbl_zone_parse(spec, &z, &err), -1);
    cr_assert_lt(strlen(err.msg), sizeof(err.msg));
}

/* ------------------------------------------------------------------ */
/* Not listed                                                          */

Test(dnsbl, clean_ip_and_domain_are_not_listed)
{
    const struct dnsbl_audit *a =
        run("clean.example", (const char *[]){"192.0.2.1"}, 1);
    size_t i;

    cr_assert_eq(a->nzones, 4);
    /* 3 IP lists for the IP, then the domain list */
    cr_assert_eq(a->nresults, 4);
    for (i = 0; i < a->nresults; i++) {
        cr_assert_eq(a->results[i].state, DNSBL_NOT_LISTED);
        cr_assert_str_eq(a->results[i].dns_status, "NXDOMAIN");
        cr_assert_eq(a->results[i].status, PB_STATUS_OK);
        cr_assert_null(a->results[i].txt);
    }
    cr_assert_str_eq(a->results[0].qname, "1.2.0.192.zen.spamhaus.org");
    cr_assert(a->results[0].is_ip);
    cr_assert_str_eq(a->results[3].target, "clean.example");
    cr_assert_str_eq(a->results[3].qname, "clean.example.dbl.spamhaus.org");
    cr_assert_not(a->results[3].is_ip);
    cr_assert_eq(a->findings.n, 0);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(dnsbl, nodata_is_not_listed)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.15");

    cr_assert_eq(result(a, "192.0.2.15", "zen.spamhaus.org")->state,
                 DNSBL_NOT_LISTED);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(dnsbl, all_questions_go_in_one_batch_then_the_txt)
{
    static const char *const ips[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3"};
    size_t before = dns_resolver_sent(resolver);

    run("listed.example", ips, 3);
    /* 3 x 3 IP questions + 1 domain, then TXT for the 3 hits */
    cr_assert_eq(dns_resolver_sent(resolver) - before, 10 + 3);
}

/* ------------------------------------------------------------------ */
/* One case per finding id                                             */

Test(dnsbl, sbl_and_xbl_listing_fails_with_meanings_and_txt)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.2");
    const struct dnsbl_result *r = result(a, "192.0.2.2", "zen.spamhaus.org");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);

    cr_assert_eq(r->state, DNSBL_LISTED);
    cr_assert_eq(r->ncodes, 2);
    assert_code(&r->codes[0], "127.0.0.2");
    cr_assert_str_eq(r->codes[0].meaning, "SBL: Spamhaus Block List");
    assert_code(&r->codes[1], "127.0.0.4");
    cr_assert_not_null(strstr(r->codes[1].meaning, "XBL"));
    cr_assert_str_eq(r->txt, "https://check.spamhaus.org/sbl/query/SBL000000");
    cr_assert_eq(r->status, PB_STATUS_FAIL);
    cr_assert_not_null(strstr(fd->message, "192.0.2.2 is listed on "
                                           "zen.spamhaus.org (Spamhaus ZEN)"));
    cr_assert_not_null(strstr(fd->message, "127.0.0.4 (XBL"));
    cr_assert_str_eq(fd->evidence,
                     "A 2.2.0.192.zen.spamhaus.org: NOERROR: 127.0.0.2, "
                     "127.0.0.4; TXT 2.2.0.192.zen.spamhaus.org: NOERROR: "
                     "\"https://check.spamhaus.org/sbl/query/SBL000000\"");
    cr_assert_not_null(strstr(fd->remedy, "https://check.spamhaus.org/"));
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(dnsbl, pbl_listing_warns_with_the_smarthost_remedy)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.3");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-pbl", PB_SEV_WARN);

    cr_assert_eq(result(a, "192.0.2.3", "zen.spamhaus.org")->state,
                 DNSBL_LISTED);
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-listed", NULL));
    cr_assert_not_null(strstr(fd->remedy, "direct-to-MX"));
    cr_assert_not_null(strstr(fd->remedy, "smarthost"));
    cr_assert_eq(result(a, "192.0.2.3", "zen.spamhaus.org")->codes[0].kind,
                 DNSBL_CODE_POLICY);
    cr_assert_eq(a->status, PB_STATUS_WARN);
}

Test(dnsbl, sbl_with_pbl_gives_both_findings)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.10");
    const struct dnsbl_result *r = result(a, "192.0.2.10", "zen.spamhaus.org");
    const struct pb_finding *fd;

    fd = must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);
    cr_assert_null(strstr(fd->message, "PBL"));
    fd = must_find(&a->findings, "dnsbl-pbl", PB_SEV_WARN);
    cr_assert_null(strstr(fd->message, "SBL"));
    /* TXT records joined */
    cr_assert_str_eq(r->txt, "sbl | pbl");
    cr_assert_eq(r->status, PB_STATUS_FAIL);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(dnsbl, public_resolver_answer_is_could_not_check_never_listed)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.4");
    const struct dnsbl_result *r = result(a, "192.0.2.4", "zen.spamhaus.org");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-could-not-check", PB_SEV_ERROR);

    cr_assert_eq(r->state, DNSBL_COULD_NOT_CHECK);
    cr_assert_eq(r->codes[0].kind, DNSBL_CODE_ERROR);
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-listed", NULL));
    cr_assert_not_null(strstr(fd->message, "127.255.255.254"));
    cr_assert_not_null(strstr(fd->message, "public or open resolver"));
    cr_assert_not_null(strstr(fd->remedy, "your own resolver"));
    cr_assert_not_null(strstr(fd->remedy, "DQS"));
    /* the error's TXT is evidence */
    cr_assert_not_null(strstr(fd->evidence, "Error: open resolver"));
    cr_assert_not_null(r->txt);
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(dnsbl, excessive_queries_answer_is_could_not_check)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.12");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-could-not-check", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->message, "excessive"));
}

Test(dnsbl, typo_answer_says_to_check_the_zone)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.13");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-could-not-check", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->remedy, "spelling of the zone"));
}

Test(dnsbl, error_code_beside_a_listing_is_could_not_check)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.11");

    cr_assert_eq(result(a, "192.0.2.11", "zen.spamhaus.org")->state,
                 DNSBL_COULD_NOT_CHECK);
    must_find(&a->findings, "dnsbl-could-not-check", PB_SEV_ERROR);
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-listed", NULL));
}

Test(dnsbl, answer_outside_loopback_is_a_hijack_not_a_listing)
{
    size_t before = dns_resolver_sent(resolver);
    const struct dnsbl_audit *a = run_ip("192.0.2.5");
    const struct dnsbl_result *r = result(a, "192.0.2.5", "zen.spamhaus.org");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-could-not-check", PB_SEV_ERROR);

    cr_assert_eq(r->state, DNSBL_COULD_NOT_CHECK);
    cr_assert(r->codes[0].is_outside);
    cr_assert_not_null(strstr(fd->message, "8.8.8.8"));
    cr_assert_not_null(strstr(fd->remedy, "NXDOMAIN"));
    /* its TXT would come from the same impostor: not asked */
    cr_assert_null(r->txt);
    cr_assert_eq(dns_resolver_sent(resolver) - before, 3);
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-listed", NULL));
}

Test(dnsbl, loopback_answer_mixed_with_outside_is_a_hijack)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.17");

    cr_assert_eq(result(a, "192.0.2.17", "zen.spamhaus.org")->state,
                 DNSBL_COULD_NOT_CHECK);
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-listed", NULL));
}

Test(dnsbl, timeout_and_servfail_are_dns_errors)
{
    static const char *const ips[] = {"192.0.2.6", "192.0.2.7"};
    const struct dnsbl_audit *a = run(NULL, ips, 2);
    const struct dnsbl_result *r = result(a, "192.0.2.6", "bl.spamcop.net");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-dns-error", PB_SEV_ERROR);
    size_t n;

    cr_assert_eq(r->state, DNSBL_COULD_NOT_CHECK);
    cr_assert_str_eq(r->dns_status, "TIMEOUT");
    cr_assert_not_null(strstr(fd->message, "TIMEOUT"));
    cr_assert_not_null(strstr(fd->remedy, "bl.spamcop.net"));
    pb_findings_find(&a->findings, "dnsbl-dns-error", &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(result(a, "192.0.2.7", "bl.spamcop.net")->dns_status,
                     "SERVFAIL");
    /* Barracuda's listing of .6 still decides: fail beats error */
    must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(dnsbl, ipv6_is_asked_by_nibbles_where_listed)
{
    const struct dnsbl_audit *a = run_ip("2001:db8::2");
    const struct dnsbl_result *r = result(a, "2001:db8::2", "zen.spamhaus.org");
    const struct pb_finding *fd;

    cr_assert_str_eq(r->qname, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                               "0.8.b.d.0.1.0.0.2.zen.spamhaus.org");
    cr_assert_eq(r->state, DNSBL_LISTED);
    must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);
    /* IPv4-only lists are skipped, and that is said once */
    cr_assert_eq(result(a, "2001:db8::2", "bl.spamcop.net")->state,
                 DNSBL_SKIPPED);
    cr_assert_null(result(a, "2001:db8::2", "bl.spamcop.net")->qname);
    fd = must_find(&a->findings, "dnsbl-ipv6-skipped", PB_SEV_INFO);
    cr_assert_not_null(strstr(fd->message, "b.barracudacentral.org, "
                                           "bl.spamcop.net"));
    cr_assert_str_eq(dnsbl_state_name(DNSBL_SKIPPED), "skipped");
}

Test(dnsbl, ipv4_mapped_address_is_asked_as_ipv4)
{
    const struct dnsbl_audit *a = run_ip("::ffff:192.0.2.2");

    cr_assert_eq(result(a, "192.0.2.2", "zen.spamhaus.org")->state,
                 DNSBL_LISTED);
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-ipv6-skipped", NULL));
}

Test(dnsbl, domain_listing_fails)
{
    const struct dnsbl_audit *a = run("Listed.Example", NULL, 0);
    const struct dnsbl_result *r =
        result(a, "listed.example", "dbl.spamhaus.org");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);

    cr_assert_eq(r->state, DNSBL_LISTED);
    cr_assert_not_null(strstr(r->codes[0].meaning, "low reputation"));
    cr_assert_not_null(strstr(fd->remedy, "web site"));
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(dnsbl, abused_legit_domain_has_its_meaning)
{
    const struct dnsbl_audit *a = run("abused.example", NULL, 0);

    cr_assert_str_eq(
        result(a, "abused.example", "dbl.spamhaus.org")->codes[0].meaning,
        "abused legit domain: phishing");
}

Test(dnsbl, ip_code_of_the_domain_list_is_could_not_check)
{
    const struct dnsbl_audit *a = run("ipq.example", NULL, 0);
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-could-not-check", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->message, "127.0.1.255"));
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-listed", NULL));
}

Test(dnsbl, public_resolver_answer_on_the_domain_list)
{
    const struct dnsbl_audit *a = run("public.example", NULL, 0);

    must_find(&a->findings, "dnsbl-could-not-check", PB_SEV_ERROR);
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(dnsbl, no_ip_says_the_ip_lists_were_not_asked)
{
    const struct dnsbl_audit *a = run("clean.example", NULL, 0);
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-no-ip", PB_SEV_INFO);

    cr_assert_not_null(strstr(fd->message, "3 IP block lists"));
    cr_assert_eq(a->nresults, 1);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(dnsbl, no_domain_no_domain_lists)
{
    const struct dnsbl_audit *a = run(NULL, (const char *[]){"192.0.2.1"}, 1);

    cr_assert_eq(a->nresults, 3);
    a = run("", (const char *[]){"192.0.2.1"}, 1);
    cr_assert_eq(a->nresults, 3);
}

Test(dnsbl, query_name_over_253_octets_is_a_dns_error)
{
    char domain[254];
    const struct dnsbl_audit *a;

    /* 240 octets + ".dbl.spamhaus.org" is over 253 */
    memset(domain, 'a', 240);
    domain[63] = '.';
    domain[127] = '.';
    domain[191] = '.';
    domain[240] = '\0';
    a = run(domain, NULL, 0);
    cr_assert_eq(a->results[0].state, DNSBL_COULD_NOT_CHECK);
    must_find(&a->findings, "dnsbl-dns-error", PB_SEV_ERROR);
}

/* ------------------------------------------------------------------ */
/* Hostile answers                                                     */

Test(dnsbl, undocumented_code_of_a_known_list_is_listed_and_said)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.8");
    const struct dnsbl_result *r = result(a, "192.0.2.8", "zen.spamhaus.org");

    cr_assert_eq(r->state, DNSBL_LISTED);
    cr_assert_not_null(strstr(r->codes[0].meaning, "does not document"));
}

Test(dnsbl, hundred_codes_are_kept_and_the_message_stays_short)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.9");
    const struct dnsbl_result *r = result(a, "192.0.2.9", "zen.spamhaus.org");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);

    cr_assert_eq(r->ncodes, 100);
    assert_code(&r->codes[99], "127.0.0.101");
    cr_assert_not_null(strstr(fd->message, "and 92 more"));
    cr_assert_lt(strlen(fd->message), 1024);
    cr_assert_not_null(strstr(fd->evidence, "... (100 records)"));
    must_find(&a->findings, "dnsbl-pbl", PB_SEV_WARN);
}

Test(dnsbl, txt_with_nul_and_escape_bytes_is_kept_raw)
{
    static const char want[] = "\000\377\033[31mtail\nline";
    const struct dnsbl_audit *a = run_ip("192.0.2.14");
    const struct dnsbl_result *r = result(a, "192.0.2.14", "zen.spamhaus.org");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);

    cr_assert_eq(r->txt_len, sizeof(want) - 1);
    cr_assert_eq(memcmp(r->txt, want, sizeof(want) - 1), 0);
    cr_assert_not_null(memchr(fd->evidence, '\033', fd->evidence_len));
}

Test(dnsbl, txt_timeout_leaves_the_listing_standing)
{
    const struct dnsbl_audit *a = run_ip("192.0.2.16");
    const struct pb_finding *fd =
        must_find(&a->findings, "dnsbl-listed", PB_SEV_FAIL);

    cr_assert_null(result(a, "192.0.2.16", "zen.spamhaus.org")->txt);
    cr_assert_not_null(strstr(fd->evidence, "TXT 16.2.0.192.zen.spamhaus.org:"
                                            " TIMEOUT"));
}

/* ------------------------------------------------------------------ */
/* Zones from the command line                                         */

Test(dnsbl, custom_ip_list_counts_any_loopback_code_as_listed)
{
    static const char *const ips[] = {"192.0.2.20", "192.0.2.21",
                                      "2001:db8::2"};
    struct dnsbl_zone z[2];
    struct pb_err err;
    const struct dnsbl_audit *a;
    const struct dnsbl_result *r;

    cr_assert_eq(dnsbl_zone_parse("bl.lab.example", &z[0], &err), 0);
    cr_assert_eq(dnsbl_zone_parse("domain:rhsbl.lab.example", &z[1], &err), 0);
    a = run_zones("listed.example", ips, 3, z, 2);
    r = result(a, "192.0.2.20", "bl.lab.example");
    cr_assert_eq(r->state, DNSBL_LISTED);
    cr_assert_str_eq(r->codes[0].meaning, "listed");
    /* a list we know nothing of: 127.255.255.254 is its own code */
    cr_assert_eq(result(a, "192.0.2.21", "bl.lab.example")->state,
                 DNSBL_LISTED);
    /* and IPv4 only */
    cr_assert_eq(result(a, "2001:db8::2", "bl.lab.example")->state,
                 DNSBL_SKIPPED);
    cr_assert_eq(result(a, "listed.example", "rhsbl.lab.example")->state,
                 DNSBL_LISTED);
    cr_assert_null(pb_findings_find(&a->findings, "dnsbl-no-ip", NULL));
    cr_assert_eq(a->nzones, 2);
}

Test(dnsbl, no_zones_is_an_empty_ok_audit)
{
    struct dnsbl_audit a;
    struct ipaddr ip;

    cr_assert_eq(ipaddr_parse("192.0.2.2", &ip), 0);
    dnsbl_audit_run(resolver, "listed.example", &ip, 1, NULL, 0, &a);
    cr_assert_eq(a.nresults, 0);
    cr_assert_eq(a.findings.n, 0);
    cr_assert_eq(a.status, PB_STATUS_OK);
    dnsbl_audit_release(&a);
    dnsbl_audit_release(&a);
    dnsbl_audit_release(NULL);
}

Test(dnsbl, state_names)
{
    cr_assert_str_eq(dnsbl_state_name(DNSBL_NOT_LISTED), "not-listed");
    cr_assert_str_eq(dnsbl_state_name(DNSBL_LISTED), "listed");
    cr_assert_str_eq(dnsbl_state_name(DNSBL_COULD_NOT_CHECK),
                     "could-not-check");
}
