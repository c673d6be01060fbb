/* SPDX-License-Identifier: MIT */
/*
 * The MX check (analyze/mx.c) against DNS fixtures in test/data/hosts/:
 * one case for every mx-* finding id, the null MX of RFC 7505, the
 * implicit MX of RFC 5321 §5.1, and hostile answers (CNAME loops,
 * timeouts, control bytes in names, 100 MX records, 200 addresses).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "testdata.h"

static struct dns_resolver *resolver;
static struct mx_audit audit;

static void
open_fixture(const char *rel)
{
    struct dns_options opt = {.fixture = testdata_path(rel)};
    struct pb_err err;

    dns_resolver_free(resolver);
    resolver = NULL;
    cr_assert_eq(dns_resolver_new(&opt, &resolver, &err), 0, "%s", err.msg);
}

static void
setup(void)
{
    open_fixture("hosts/mx.json");
}

static void
teardown(void)
{
    mx_audit_release(&audit);
    dns_resolver_free(resolver);
    resolver = NULL;
}

TestSuite(mx, .init = setup, .fini = teardown);

static const struct mx_audit *
run(const char *domain)
{
    mx_audit_release(&audit);
    mx_audit_run(resolver, domain, &audit);
    return &audit;
}

/* The finding with this id, or NULL; *count gets how many there are. */
static const struct pb_finding *
must_find(const struct pb_findings *f, const char *id, enum pb_severity sev)
{
    const struct pb_finding *fd = testdata_finding(f, "mx", id, sev);

    cr_assert_not_null(fd->message);
    return fd;
}

static void
assert_addr(const struct ipaddr *ip, const char *text)
{
    char buf[64];

    ipaddr_format(ip, buf, sizeof(buf));
    cr_assert_str_eq(buf, text);
}

/* ------------------------------------------------------------------ */
/* Healthy domains                                                     */

Test(mx, records_by_preference_with_their_addresses)
{
    const struct mx_audit *a = run("ok.example");

    cr_assert_eq(a->status, PB_STATUS_OK);
    cr_assert_eq(a->findings.n, 0);
    cr_assert_eq(a->mx_status, DNS_OK);
    cr_assert_str_eq(a->lookup, "NOERROR");
    cr_assert_eq(a->nhosts, 2);
    cr_assert_not(a->null_mx);
    cr_assert_not(a->is_implicit);
    /* the fixture's "MX1.Ok.Example." arrives canonical */
    cr_assert_str_eq(a->hosts[0].exchange, "mx1.ok.example");
    cr_assert_eq(a->hosts[0].preference, 10);
    cr_assert_eq(a->hosts[0].naddrs, 2);
    assert_addr(&a->hosts[0].addrs[0], "192.0.2.10");
    assert_addr(&a->hosts[0].addrs[1], "2001:db8::10");
    cr_assert_eq(a->hosts[0].status, PB_STATUS_OK);
    cr_assert_str_eq(a->hosts[1].exchange, "mx2.ok.example");
    cr_assert_eq(a->hosts[1].naddrs, 1);
}

Test(mx, equal_preferences_keep_the_received_order)
{
    const struct mx_audit *a = run("order.example");

    cr_assert_eq(a->nhosts, 4);
    cr_assert_str_eq(a->hosts[0].exchange, "a.order.example");
    cr_assert_str_eq(a->hosts[1].exchange, "a2.order.example");
    cr_assert_str_eq(a->hosts[2].exchange, "b.order.example");
    cr_assert_str_eq(a->hosts[3].exchange, "c.order.example");
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(mx, domain_is_taken_in_any_case_with_a_trailing_dot)
{
    const struct mx_audit *a = run("OK.Example.");

    cr_assert_str_eq(a->domain, "ok.example");
    cr_assert_eq(a->nhosts, 2);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(mx, domain_behind_a_cname_has_the_targets_records)
{
    const struct mx_audit *a = run("aliasdomain.example");

    cr_assert_eq(a->nhosts, 2);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(mx, all_exchanges_are_asked_in_one_batch)
{
    size_t before = dns_resolver_sent(resolver);

    run("order.example");
    /* one MX question, then A and AAAA of 4 exchanges */
    cr_assert_eq(dns_resolver_sent(resolver) - before, 1 + 8);
}

/* ------------------------------------------------------------------ */
/* Null MX (RFC 7505)                                                  */

Test(mx, null_mx_alone_accepts_no_mail_and_should_not_send)
{
    const struct mx_audit *a = run("null.example");
    const struct pb_finding *fd;

    cr_assert(a->null_mx);
    cr_assert_eq(a->nhosts, 1);
    cr_assert(a->hosts[0].is_null);
    cr_assert_str_eq(a->hosts[0].exchange, "");
    fd = must_find(&a->findings, "mx-null", PB_SEV_INFO);
    cr_assert_not_null(strstr(fd->message, "accepts no mail"));
    cr_assert_null(fd->remedy);
    cr_assert_not_null(strstr(fd->evidence, "MX null.example: NOERROR: 0 ."));
    fd = must_find(&a->findings, "mx-null-sender", PB_SEV_WARN);
    cr_assert_not_null(strstr(fd->message, "RFC 7505 section 4.2"));
    cr_assert_not_null(fd->remedy);
    cr_assert_eq(a->status, PB_STATUS_WARN);
}

Test(mx, null_mx_is_not_looked_up)
{
    size_t before = dns_resolver_sent(resolver);

    run("null.example");
    cr_assert_eq(dns_resolver_sent(resolver) - before, 1);
}

Test(mx, null_mx_with_a_preference_says_to_use_zero)
{
    const struct mx_audit *a = run("null-pref.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-null", PB_SEV_INFO);

    cr_assert(a->null_mx);
    cr_assert_not_null(fd->remedy);
    cr_assert_not_null(strstr(fd->remedy, "preference 0"));
}

Test(mx, null_mx_among_others_fails)
{
    const struct mx_audit *a = run("mixed.example");
    const struct pb_finding *fd;

    cr_assert_not(a->null_mx);
    cr_assert_eq(a->nhosts, 2);
    /* preference 0 sorts first */
    cr_assert(a->hosts[0].is_null);
    cr_assert_eq(a->hosts[0].status, PB_STATUS_FAIL);
    cr_assert_eq(a->hosts[1].status, PB_STATUS_OK);
    cr_assert_eq(a->hosts[1].naddrs, 2);
    fd = must_find(&a->findings, "mx-null-mixed", PB_SEV_FAIL);
    cr_assert_not_null(strstr(fd->message, "MX 0 . is a null MX"));
    cr_assert_null(pb_findings_find(&a->findings, "mx-null", NULL));
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

/* ------------------------------------------------------------------ */
/* No MX: implicit MX, missing, NXDOMAIN                               */

Test(mx, no_mx_falls_back_to_the_a_record)
{
    const struct mx_audit *a = run("implicit.example");
    const struct pb_finding *fd;

    cr_assert(a->is_implicit);
    cr_assert_eq(a->nhosts, 0);
    cr_assert_eq(a->nimplicit, 1);
    assert_addr(&a->implicit_addrs[0], "192.0.2.20");
    fd = must_find(&a->findings, "mx-implicit", PB_SEV_WARN);
    cr_assert_not_null(strstr(fd->message, "192.0.2.20"));
    cr_assert_not_null(strstr(fd->evidence, "MX implicit.example: NOERROR; "
                                            "A implicit.example: NOERROR: "
                                            "192.0.2.20"));
    cr_assert_not_null(fd->remedy);
    cr_assert_eq(a->status, PB_STATUS_WARN);
}

Test(mx, no_mx_falls_back_to_the_aaaa_record)
{
    const struct mx_audit *a = run("implicit6.example");

    cr_assert(a->is_implicit);
    cr_assert_eq(a->nimplicit, 1);
    assert_addr(&a->implicit_addrs[0], "2001:db8::20");
    must_find(&a->findings, "mx-implicit", PB_SEV_WARN);
}

Test(mx, no_mx_and_no_address_fails)
{
    const struct mx_audit *a = run("nothing.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-missing", PB_SEV_FAIL);

    cr_assert_not(a->is_implicit);
    cr_assert_not_null(strstr(fd->message, "cannot receive mail"));
    cr_assert_not_null(fd->remedy);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(mx, no_mx_and_an_address_lookup_timeout_is_an_error)
{
    const struct mx_audit *a = run("implicit-timeout.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-dns-error", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->evidence, "TIMEOUT"));
    cr_assert_null(pb_findings_find(&a->findings, "mx-missing", NULL));
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(mx, nxdomain_fails_as_an_unknown_sender_domain)
{
    const struct mx_audit *a = run("gone.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-domain-nxdomain", PB_SEV_FAIL);

    cr_assert_eq(a->mx_status, DNS_NXDOMAIN);
    cr_assert_str_eq(a->lookup, "NXDOMAIN");
    cr_assert_not_null(strstr(fd->message, "does not exist"));
    cr_assert_str_eq(fd->evidence, "MX gone.example: NXDOMAIN");
    cr_assert_eq(a->findings.n, 1);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(mx, domain_timeout_is_an_error_not_a_failure)
{
    const struct mx_audit *a = run("timeout.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-dns-error", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->message, "TIMEOUT"));
    cr_assert_eq(a->findings.n, 1);
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(mx, servfail_is_an_error)
{
    const struct mx_audit *a = run("servfail.example");

    must_find(&a->findings, "mx-dns-error", PB_SEV_ERROR);
    cr_assert_str_eq(a->lookup, "SERVFAIL");
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(mx, mx_timeout_beside_an_a_record_is_still_an_error)
{
    const struct mx_audit *a = run("mx-timeout.example");

    must_find(&a->findings, "mx-dns-error", PB_SEV_ERROR);
    cr_assert_not(a->is_implicit);
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(mx, invalid_domain_is_an_error)
{
    const struct mx_audit *a = run("bad..example");

    must_find(&a->findings, "mx-dns-error", PB_SEV_ERROR);
    cr_assert_eq(a->status, PB_STATUS_ERROR);
    run("");
    must_find(&audit.findings, "mx-dns-error", PB_SEV_ERROR);
    run(NULL);
    must_find(&audit.findings, "mx-dns-error", PB_SEV_ERROR);
}

/* ------------------------------------------------------------------ */
/* Exchanges                                                           */

Test(mx, exchange_without_address_fails)
{
    const struct mx_audit *a = run("noaddr.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-host-no-address", PB_SEV_FAIL);

    cr_assert_eq(a->hosts[0].naddrs, 0);
    cr_assert_eq(a->hosts[0].status, PB_STATUS_FAIL);
    cr_assert_not_null(strstr(fd->message, "MX 10 missing.noaddr.example"));
    cr_assert_str_eq(fd->evidence, "A missing.noaddr.example: NXDOMAIN; "
                                   "AAAA missing.noaddr.example: NXDOMAIN");
    cr_assert_not_null(strstr(fd->remedy, "missing.noaddr.example"));
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(mx, exchange_with_nodata_fails)
{
    const struct mx_audit *a = run("nodata-host.example");

    must_find(&a->findings, "mx-host-no-address", PB_SEV_FAIL);
}

Test(mx, exchange_that_is_an_address_warns_without_a_lookup)
{
    size_t before = dns_resolver_sent(resolver);
    const struct mx_audit *a = run("ip.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-host-is-ip", PB_SEV_WARN);

    cr_assert(a->hosts[0].is_ip_literal);
    cr_assert_not(a->hosts[0].is_resolved);
    cr_assert_not_null(strstr(fd->message, "192.0.2.30"));
    cr_assert_null(pb_findings_find(&a->findings, "mx-host-no-address", NULL));
    cr_assert_eq(dns_resolver_sent(resolver) - before, 1);
    cr_assert_eq(a->status, PB_STATUS_WARN);
}

Test(mx, exchange_that_is_a_bracketed_address_warns)
{
    const struct mx_audit *a = run("ip6lit.example");

    must_find(&a->findings, "mx-host-is-ip", PB_SEV_WARN);
    cr_assert_null(pb_findings_find(&a->findings, "mx-host-invalid", NULL));
}

Test(mx, exchange_that_is_an_alias_warns_and_resolves)
{
    const struct mx_audit *a = run("cname.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-host-is-cname", PB_SEV_WARN);

    cr_assert(a->hosts[0].is_cname);
    cr_assert_eq(a->hosts[0].naddrs, 2);
    cr_assert_not_null(strstr(fd->remedy, "mx1.ok.example"));
    cr_assert_not_null(
        strstr(fd->evidence, "CNAME mx1.ok.example, 192.0.2.10"));
    cr_assert_eq(a->status, PB_STATUS_WARN);
}

Test(mx, dangling_alias_warns_and_fails)
{
    const struct mx_audit *a = run("dangle.example");

    must_find(&a->findings, "mx-host-is-cname", PB_SEV_WARN);
    must_find(&a->findings, "mx-host-no-address", PB_SEV_FAIL);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(mx, duplicate_exchange_is_info_and_shares_the_addresses)
{
    const struct mx_audit *a = run("dup.example");
    size_t n;

    must_find(&a->findings, "mx-duplicate", PB_SEV_INFO);
    pb_findings_find(&a->findings, "mx-duplicate", &n);
    cr_assert_eq(n, 1);
    cr_assert(a->hosts[1].is_duplicate);
    cr_assert_eq(a->hosts[1].naddrs, 2);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(mx, exchange_timeout_is_an_error)
{
    const struct mx_audit *a = run("hosttimeout.example");

    must_find(&a->findings, "mx-dns-error", PB_SEV_ERROR);
    cr_assert_null(pb_findings_find(&a->findings, "mx-host-no-address", NULL));
    cr_assert_eq(a->hosts[0].status, PB_STATUS_ERROR);
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(mx, exchange_in_a_cname_loop_is_an_error)
{
    const struct mx_audit *a = run("loop.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-dns-error", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->evidence, "CNAME loop"));
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(mx, exchange_on_loopback_warns)
{
    const struct mx_audit *a = run("internal.example");

    must_find(&a->findings, "mx-host-internal", PB_SEV_WARN);
    cr_assert_eq(a->hosts[0].naddrs, 2);
}

Test(mx, exchange_with_a_control_byte_is_invalid_and_not_asked)
{
    size_t before = dns_resolver_sent(resolver);
    const struct mx_audit *a = run("invalid.example");
    const struct pb_finding *fd =
        must_find(&a->findings, "mx-host-invalid", PB_SEV_FAIL);

    /* kept as received; escaping is the report's job */
    cr_assert_str_eq(a->hosts[0].exchange, "bad\001host.invalid.example");
    cr_assert_not_null(strstr(fd->message, "bad\001host"));
    cr_assert_eq(dns_resolver_sent(resolver) - before, 1);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(mx, one_family_is_enough)
{
    const struct mx_audit *a = run("half.example");

    cr_assert_eq(a->findings.n, 0);
    cr_assert_eq(a->hosts[0].naddrs, 1);
    assert_addr(&a->hosts[0].addrs[0], "2001:db8::30");
    /* A timed out, AAAA answered: the exchange is reachable */
    cr_assert_eq(a->hosts[1].naddrs, 1);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

/* ------------------------------------------------------------------ */
/* Large answers                                                       */

Test(mx, hundred_mx_records_are_all_resolved_in_one_batch)
{
    size_t before, i;
    const struct mx_audit *a;
    const struct pb_finding *fd;

    open_fixture("hosts/mx-many.json");
    before = dns_resolver_sent(resolver);
    a = run("many.example");
    cr_assert_eq(a->nhosts, 100);
    for (i = 0; i < 100; i++) {
        cr_assert_eq(a->hosts[i].preference, i);
        cr_assert_eq(a->hosts[i].naddrs, 1);
    }
    fd = must_find(&a->findings, "mx-many", PB_SEV_INFO);
    cr_assert_not_null(strstr(fd->message, "100 MX records"));
    /* the evidence shows the first records and counts the rest */
    cr_assert_not_null(strstr(fd->evidence, "... (100 records)"));
    cr_assert_eq(dns_resolver_sent(resolver) - before, 1 + 200);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(mx, exchange_with_200_addresses_keeps_them_all)
{
    const struct mx_audit *a;

    open_fixture("hosts/mx-many.json");
    a = run("wide.example");
    cr_assert_eq(a->hosts[0].naddrs, 200);
    assert_addr(&a->hosts[0].addrs[199], "203.0.113.200");
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(mx, release_is_idempotent)
{
    struct mx_audit a;

    memset(&a, 0, sizeof(a));
    mx_audit_release(&a);
    mx_audit_release(NULL);
    mx_audit_run(resolver, "ok.example", &a);
    mx_audit_release(&a);
    mx_audit_release(&a);
    cr_assert_eq(a.nhosts, 0);
}
