/* SPDX-License-Identifier: MIT */
/*
 * The PTR check (analyze/ptr.c): reverse DNS, forward confirmation
 * (FCrDNS) and the generic-name heuristic, against the DNS fixture
 * test/data/hosts/ptr.json: one case for every ptr-* finding id, IPv6,
 * RFC 2317 classless delegation, and hostile answers (control and 8-bit
 * bytes in names, a 253-octet name, 12 PTR records, CNAME loops,
 * timeouts).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "hosts_int.h"
#include "testdata.h"

static struct dns_resolver *resolver;
static struct ptr_audit audit;

static void
setup(void)
{
    resolver = testdata_resolver("hosts/ptr.json");
    cr_assert_not_null(resolver);
}

static void
teardown(void)
{
    ptr_audit_release(&audit);
    dns_resolver_free(resolver);
    resolver = NULL;
}

TestSuite(ptr, .init = setup, .fini = teardown);

/* Audit the IPs given as text, for example.com unless domain says else. */
static const struct ptr_audit *
run_n(const char *domain, const char *const *ips, size_t n)
{
    struct ipaddr v[32];
    size_t i;

    cr_assert(n <= 32);
    for (i = 0; i < n; i++)
        cr_assert_eq(ipaddr_parse(ips[i], &v[i]), 0, "%s", ips[i]);
    ptr_audit_release(&audit);
    ptr_audit_run(resolver, domain, v, n, &audit);
    cr_assert_eq(audit.nips, n);
    return &audit;
}

static const struct ptr_audit *
run1(const char *ip)
{
    return run_n("example.com", &ip, 1);
}

static const struct pb_finding *
must_find(const struct pb_findings *f, const char *id, enum pb_severity sev)
{
    return testdata_finding(f, "ptr", id, sev);
}

/* ------------------------------------------------------------------ */
/* Confirmed                                                           */

Test(ptr, confirmed_ptr_in_the_domain_has_no_findings)
{
    const struct ptr_audit *a = run1("192.0.2.5");
    const struct ptr_ip *p = &a->ips[0];

    cr_assert_eq(a->findings.n, 0);
    cr_assert_eq(a->status, PB_STATUS_OK);
    cr_assert_str_eq(p->text, "192.0.2.5");
    cr_assert_str_eq(p->reverse, "5.2.0.192.in-addr.arpa");
    cr_assert_str_eq(p->lookup, "NOERROR");
    cr_assert_eq(p->nnames, 1);
    cr_assert_str_eq(p->names[0].name, "mail.example.com");
    cr_assert(p->names[0].is_checked);
    cr_assert_eq(p->names[0].naddrs, 2);
    cr_assert(p->names[0].is_confirmed);
    cr_assert(p->is_confirmed);
    cr_assert_not(p->is_generic);
    cr_assert(p->is_in_domain);
    cr_assert_eq(p->status, PB_STATUS_OK);
}

Test(ptr, ipv4_mapped_address_is_checked_as_ipv4)
{
    const struct ptr_audit *a = run1("::ffff:192.0.2.5");

    cr_assert_str_eq(a->ips[0].text, "192.0.2.5");
    cr_assert(a->ips[0].is_confirmed);
}

Test(ptr, classless_delegation_cname_is_followed)
{
    /* RFC 2317: 16.2.0.192.in-addr.arpa CNAME 16.0-25.2.0.192... */
    const struct ptr_audit *a = run1("192.0.2.16");

    cr_assert(a->ips[0].is_confirmed);
    cr_assert_eq(a->findings.n, 0);
}

Test(ptr, forward_name_through_a_cname_confirms)
{
    const struct ptr_audit *a = run1("192.0.2.18");

    cr_assert(a->ips[0].is_confirmed);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(ptr, ipv6_confirmed_by_aaaa)
{
    const struct ptr_audit *a = run1("2001:db8::25");

    cr_assert_str_eq(a->ips[0].reverse,
                     "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0."
                     "1.0.0.2.ip6.arpa");
    cr_assert(a->ips[0].is_confirmed);
    cr_assert_eq(a->ips[0].names[0].naddrs, 1);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(ptr, name_of_253_octets_is_looked_up)
{
    const struct ptr_audit *a = run_n(NULL, (const char *[]){"192.0.2.25"}, 1);

    cr_assert_eq(strlen(a->ips[0].names[0].name), 253);
    cr_assert(a->ips[0].is_confirmed);
    cr_assert_eq(a->status, PB_STATUS_OK);
}

Test(ptr, all_questions_go_in_two_batches)
{
    static const char *const ips[] = {"192.0.2.5", "192.0.2.7", "192.0.2.10",
                                      "2001:db8::25"};
    size_t before = dns_resolver_sent(resolver);

    run_n("example.com", ips, 4);
    /* 4 PTR, then 1 + 1 + 2 + 1 forward */
    cr_assert_eq(dns_resolver_sent(resolver) - before, 4 + 5);
    cr_assert_eq(audit.ips[2].nnames, 2);
}

/* ------------------------------------------------------------------ */
/* One case per finding id                                             */

Test(ptr, missing_ptr_fails_with_the_remedy)
{
    const struct ptr_audit *a = run1("192.0.2.6");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-missing", PB_SEV_FAIL);

    cr_assert_not_null(strstr(fd->message, "192.0.2.6 (NXDOMAIN)"));
    cr_assert_not_null(strstr(fd->message, "Gmail"));
    cr_assert_str_eq(fd->evidence, "PTR 6.2.0.192.in-addr.arpa: NXDOMAIN");
    cr_assert_not_null(strstr(fd->remedy, "ISP or hosting provider"));
    cr_assert_not_null(strstr(fd->remedy, "mail.example.com"));
    cr_assert_eq(a->ips[0].status, PB_STATUS_FAIL);
    cr_assert_eq(a->findings.n, 1);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(ptr, nodata_ptr_is_missing)
{
    const struct ptr_audit *a = run1("192.0.2.20");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-missing", PB_SEV_FAIL);

    cr_assert_not_null(strstr(fd->message, "(NODATA)"));
}

Test(ptr, missing_ptr_without_a_domain_suggests_a_placeholder)
{
    const struct ptr_audit *a = run_n(NULL, (const char *[]){"192.0.2.6"}, 1);
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-missing", PB_SEV_FAIL);

    cr_assert_not_null(strstr(fd->remedy, "mail.<your domain>"));
}

Test(ptr, name_not_resolving_back_fails)
{
    const struct ptr_audit *a = run1("192.0.2.7");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-not-confirmed", PB_SEV_FAIL);

    cr_assert_not(a->ips[0].is_confirmed);
    cr_assert_eq(a->ips[0].names[0].naddrs, 1);
    cr_assert_str_eq(fd->evidence,
                     "PTR 7.2.0.192.in-addr.arpa: NOERROR: mail7.example.com; "
                     "A mail7.example.com: NOERROR: 192.0.2.77");
    /* the name is ours: fix its A record */
    cr_assert_str_eq(fd->remedy,
                     "publish a PTR for 192.0.2.7 that resolves back: add the "
                     "A record mail7.example.com -> 192.0.2.7");
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(ptr, name_without_forward_record_fails)
{
    const struct ptr_audit *a = run1("192.0.2.24");

    must_find(&a->findings, "ptr-not-confirmed", PB_SEV_FAIL);
    cr_assert_str_eq(a->ips[0].names[0].lookup, "NXDOMAIN");
}

Test(ptr, ipv4_is_not_confirmed_by_an_aaaa_record)
{
    const struct ptr_audit *a = run1("192.0.2.22");

    must_find(&a->findings, "ptr-not-confirmed", PB_SEV_FAIL);
}

Test(ptr, ipv6_is_not_confirmed_by_an_a_record)
{
    const struct ptr_audit *a = run1("2001:db8::26");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-not-confirmed", PB_SEV_FAIL);

    cr_assert_not_null(strstr(fd->evidence, "AAAA mail6b.example.com"));
    cr_assert_not_null(strstr(fd->remedy, "AAAA"));
}

Test(ptr, name_with_the_address_digits_is_generic)
{
    const struct ptr_audit *a = run1("192.0.2.8");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-generic", PB_SEV_WARN);

    cr_assert(a->ips[0].is_confirmed);
    cr_assert(a->ips[0].is_generic);
    cr_assert_not_null(strstr(fd->message, "192-0-2-8"));
    cr_assert_not_null(strstr(fd->remedy, "mail.example.com"));
    cr_assert_not_null(strstr(fd->remedy, "resolves back to 192.0.2.8"));
    cr_assert_eq(a->status, PB_STATUS_WARN);
}

Test(ptr, name_with_a_dynamic_word_is_generic)
{
    const struct ptr_audit *a = run1("192.0.2.9");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-generic", PB_SEV_WARN);

    cr_assert_not_null(strstr(fd->message, "dynamic"));
}

Test(ptr, static_ip_name_is_generic)
{
    const struct ptr_audit *a = run1("192.0.2.21");

    must_find(&a->findings, "ptr-generic", PB_SEV_WARN);
}

Test(ptr, ipv6_name_with_the_address_is_generic)
{
    const struct ptr_audit *a = run1("2001:db8::1:27");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-generic", PB_SEV_WARN);

    cr_assert_not_null(strstr(fd->message, "2001-db8--1-27"));
}

Test(ptr, several_ptr_records_warn)
{
    const struct ptr_audit *a = run1("192.0.2.10");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-multiple", PB_SEV_WARN);

    cr_assert(a->ips[0].is_confirmed);
    cr_assert_not_null(strstr(fd->message, "2 PTR records"));
    cr_assert_null(strstr(fd->message, "first 10"));
    cr_assert_eq(a->status, PB_STATUS_WARN);
}

Test(ptr, only_ten_names_are_looked_up)
{
    size_t before = dns_resolver_sent(resolver);
    const struct ptr_audit *a = run1("192.0.2.19");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-multiple", PB_SEV_WARN);

    cr_assert_eq(a->ips[0].nnames, 12);
    cr_assert(a->ips[0].names[9].is_checked);
    cr_assert_not(a->ips[0].names[10].is_checked);
    cr_assert_not_null(strstr(fd->message, "only the first 10"));
    cr_assert_eq(dns_resolver_sent(resolver) - before, 1 + 10);
    /* n11 would have confirmed, but it is past the limit */
    fd = must_find(&a->findings, "ptr-not-confirmed", PB_SEV_FAIL);
    cr_assert_not_null(strstr(fd->message, "none of the 10 PTR names"));
}

Test(ptr, ptr_timeout_is_an_error)
{
    const struct ptr_audit *a = run1("192.0.2.11");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-dns-error", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->message, "TIMEOUT"));
    cr_assert_null(pb_findings_find(&a->findings, "ptr-missing", NULL));
    cr_assert_str_eq(a->ips[0].lookup, "TIMEOUT");
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(ptr, ptr_servfail_is_an_error)
{
    const struct ptr_audit *a = run1("192.0.2.23");

    must_find(&a->findings, "ptr-dns-error", PB_SEV_ERROR);
    cr_assert_str_eq(a->ips[0].lookup, "SERVFAIL");
}

Test(ptr, ptr_cname_loop_is_an_error)
{
    const struct ptr_audit *a = run1("192.0.2.17");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-dns-error", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->evidence, "CNAME loop"));
}

Test(ptr, forward_timeout_is_an_error_not_a_failure)
{
    const struct ptr_audit *a = run1("192.0.2.12");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-dns-error", PB_SEV_ERROR);

    cr_assert_not_null(strstr(fd->evidence, "A fwd-timeout.example.com: "
                                            "TIMEOUT"));
    cr_assert_null(pb_findings_find(&a->findings, "ptr-not-confirmed", NULL));
    cr_assert_eq(a->status, PB_STATUS_ERROR);
}

Test(ptr, name_outside_the_domain_is_info)
{
    const struct ptr_audit *a = run1("192.0.2.13");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-outside-domain", PB_SEV_INFO);

    cr_assert_not_null(strstr(fd->message, "relay.hoster.example"));
    cr_assert_not(a->ips[0].is_in_domain);
    cr_assert_eq(a->status, PB_STATUS_OK);
    /* no domain, no note */
    a = run_n(NULL, (const char *[]){"192.0.2.13"}, 1);
    cr_assert_eq(a->findings.n, 0);
}

Test(ptr, name_with_control_and_8bit_bytes_is_invalid_and_not_asked)
{
    size_t before = dns_resolver_sent(resolver);
    const struct ptr_audit *a = run1("192.0.2.14");
    const struct pb_finding *fd =
        must_find(&a->findings, "ptr-name-invalid", PB_SEV_WARN);

    cr_assert_eq(a->ips[0].names[0].name[0], '\001');
    cr_assert_not(a->ips[0].names[0].is_checked);
    cr_assert_not_null(fd->evidence);
    cr_assert_eq(dns_resolver_sent(resolver) - before, 1);
    fd = must_find(&a->findings, "ptr-not-confirmed", PB_SEV_FAIL);
    cr_assert_not_null(strstr(fd->message, "no PTR name"));
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(ptr, findings_are_grouped_by_ip_in_the_order_given)
{
    static const char *const ips[] = {"192.0.2.7", "192.0.2.6", "192.0.2.8"};
    const struct ptr_audit *a = run_n("example.com", ips, 3);

    cr_assert_str_eq(a->findings.v[0].id, "ptr-not-confirmed");
    cr_assert_str_eq(a->findings.v[1].id, "ptr-missing");
    cr_assert_str_eq(a->findings.v[2].id, "ptr-generic");
    cr_assert_eq(a->ips[0].status, PB_STATUS_FAIL);
    cr_assert_eq(a->ips[2].status, PB_STATUS_WARN);
    cr_assert_eq(a->status, PB_STATUS_FAIL);
}

Test(ptr, no_ips_is_an_empty_ok_audit)
{
    struct ptr_audit a;

    ptr_audit_run(resolver, "example.com", NULL, 0, &a);
    cr_assert_eq(a.nips, 0);
    cr_assert_eq(a.status, PB_STATUS_OK);
    ptr_audit_release(&a);
    ptr_audit_release(&a);
    ptr_audit_release(NULL);
}

/* ------------------------------------------------------------------ */
/* The generic-name heuristic, pure                                    */

struct generic_case {
    const char *ip;
    const char *name;
    bool is_generic;
};

static const struct generic_case generic_cases[] = {
    /* the address digits, in the forms ISPs use */
    {"192.0.2.5", "192-0-2-5.isp.example", true},
    {"192.0.2.5", "host.192.0.2.5.isp.example", true},
    {"192.0.2.5", "5.2.0.192.static.isp.example", true},
    {"192.0.2.5", "5-2-0-192.isp.example", true},
    {"192.0.2.5", "c-192_0_2_5.hsd1.isp.example", true},
    {"192.0.2.5", "host192000002005.isp.example", true},
    {"192.0.2.5", "192-000-002-005.isp.example", true},
    {"192.0.2.5", "dyn-c0000205.isp.example", true},
    {"192.0.2.5", "DYN-C0000205.ISP.EXAMPLE", true},
    {"203.0.113.77", "ec2-203-0-113-77.compute-1.example", true},
    /* words left of the registered domain */
    {"192.0.2.5", "dynamic.isp.example", true},
    {"192.0.2.5", "x.dhcp.isp.example", true},
    {"192.0.2.5", "pool-a.isp.example", true},
    {"192.0.2.5", "ppp12.isp.example", true},
    {"192.0.2.5", "adsl-line.isp.example", true},
    {"192.0.2.5", "cable-modem.isp.example", true},
    {"192.0.2.5", "broadband.isp.example", true},
    {"192.0.2.5", "client.isp.example", true},
    {"192.0.2.5", "customer.isp.example", true},
    {"192.0.2.5", "static-ip.isp.example", true},
    {"192.0.2.5", "ip-77-1.isp.example", true},
    {"192.0.2.5", "ip68.isp.example", true},
    /* not generic */
    {"192.0.2.5", "mail.example.com", false},
    {"192.0.2.5", "mx1.example.com", false},
    {"192.0.2.5", "192-0-2-55.isp.example", false},
    {"192.0.2.5", "1192-0-2-5.isp.example", false},
    {"192.0.2.5", "a192000002005b.isp.example", true},
    {"192.0.2.5", "c00002051.isp.example", false},
    {"192.0.2.5", "mail.dyn.com", false},
    {"192.0.2.5", "smtp.cable.example", false},
    {"192.0.2.5", "pool.example", false},
    {"192.0.2.5", "mail.pooled.example.com", false},
    {"192.0.2.5", "static.example.com", false},
    {"192.0.2.5", "ipmail.example.com", false},
    {"192.0.2.5", "ip.example.com", false},
    {"192.0.2.5", "", false},
    {"192.0.2.5", ".", false},
    {"192.0.2.5", "...", false},
    /* IPv6 */
    {"2001:db8::1:27", "2001-db8--1-27.isp.example", true},
    {"2001:db8::1:27", "20010db8000000000000000000010027.isp.example", true},
    {"2001:db8::1:27", "2001-db8-0-0-0-0-1-27.isp.example", true},
    {"2001:db8::1:27", "2001.db8.0.0.0.0.1.27.isp.example", true},
    {"2001:db8::1:27", "mail.example.com", false},
    {"2001:db8::1:27", "2001-db8--1-270.isp.example", false},
    {"2001:db8::1:27", "dsl.isp.example.net", true},
    /* IPv4-mapped: the IPv4 forms */
    {"::ffff:192.0.2.5", "192-0-2-5.isp.example", true},
};

ParameterizedTestParameters(ptr_name_is_generic, cases)
{
    return testdata_index_params(sizeof(generic_cases) /
                                 sizeof(generic_cases[0]));
}

ParameterizedTest(size_t *i, ptr_name_is_generic, cases)
{
    const struct generic_case *c = &generic_cases[*i];
    struct ipaddr ip;
    char why[96];
    bool got;

    cr_assert_eq(ipaddr_parse(c->ip, &ip), 0);
    got = ptr_name_is_generic(c->name, &ip, why, sizeof(why));
    cr_assert_eq(got, c->is_generic, "%s for %s: %s (%s)", c->name, c->ip,
                 got ? "generic" : "not generic", why);
    if (got)
        cr_assert_neq(why[0], '\0');
    else
        cr_assert_str_eq(why, "");
}

Test(ptr_name_is_generic, hostile_names_do_not_crash)
{
    char name[1100];
    struct ipaddr ip;
    char why[8];
    size_t i;

    cr_assert_eq(ipaddr_parse("192.0.2.5", &ip), 0);
    /* 8-bit, control bytes and a label far over 63 octets */
    for (i = 0; i < sizeof(name) - 1; i++)
        name[i] = (char)(1 + i % 255);
    name[sizeof(name) - 1] = '\0';
    ptr_name_is_generic(name, &ip, why, sizeof(why));
    memset(name, 'a', sizeof(name) - 1);
    cr_assert_not(ptr_name_is_generic(name, &ip, why, sizeof(why)));
    /* why too small: cut, still terminated */
    cr_assert(
        ptr_name_is_generic("192-0-2-5.x.example", &ip, why, sizeof(why)));
    cr_assert_eq(strlen(why), sizeof(why) - 1);
    cr_assert(ptr_name_is_generic("192-0-2-5.x.example", &ip, NULL, 0));
}

/* ------------------------------------------------------------------ */
/* The shape tests of hosts_int.h                                      */

Test(hosts, host_names)
{
    char label64[80];

    cr_assert(hosts_name_is_host("mail.example.com"));
    cr_assert(hosts_name_is_host("_dmarc.example.com"));
    cr_assert(hosts_name_is_host("a"));
    cr_assert_not(hosts_name_is_host(""));
    cr_assert_not(hosts_name_is_host("a b.example"));
    cr_assert_not(hosts_name_is_host("a..example"));
    cr_assert_not(hosts_name_is_host("caf\xc3\xa9.example"));
    cr_assert_not(hosts_name_is_host("a\\000b.example"));
    memset(label64, 'a', 64);
    strcpy(label64 + 64, ".example");
    cr_assert_not(hosts_name_is_host(label64));
    /* 63 octets: at the limit */
    strcpy(label64 + 63, ".example");
    cr_assert(hosts_name_is_host(label64));
}

Test(hosts, ip_literals)
{
    cr_assert(hosts_name_is_ip_literal("192.0.2.1"));
    cr_assert(hosts_name_is_ip_literal("[192.0.2.1]"));
    cr_assert(hosts_name_is_ip_literal("2001:db8::1"));
    cr_assert(hosts_name_is_ip_literal("[ipv6:2001:db8::1]"));
    cr_assert_not(hosts_name_is_ip_literal("192.0.2.1.example"));
    cr_assert_not(hosts_name_is_ip_literal("[]"));
    cr_assert_not(hosts_name_is_ip_literal(""));
}

Test(hosts, internal_addresses)
{
    static const char *const yes[] = {
        "127.0.0.1",  "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.0.1",
        "100.64.0.1", "0.0.0.0",  "224.0.0.1",  "::1",         "::",
        "fd00::1",    "fe80::1",  "ff02::1"};
    static const char *const no[] = {"192.0.2.1", "8.8.8.8", "172.32.0.1",
                                     "2001:db8::1", "2a00::1"};
    struct ipaddr ip;
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        cr_assert_eq(ipaddr_parse(yes[i], &ip), 0);
        cr_assert(hosts_ip_is_internal(&ip), "%s", yes[i]);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        cr_assert_eq(ipaddr_parse(no[i], &ip), 0);
        cr_assert_not(hosts_ip_is_internal(&ip), "%s", no[i]);
    }
}

Test(hosts, within_a_domain)
{
    cr_assert(hosts_name_within("mail.example.com", "example.com"));
    cr_assert(hosts_name_within("example.com", "Example.COM."));
    cr_assert(hosts_name_within("MAIL.EXAMPLE.COM", "example.com"));
    cr_assert_not(hosts_name_within("mail.badexample.com", "example.com"));
    cr_assert_not(hosts_name_within("example.com.evil", "example.com"));
    cr_assert_not(hosts_name_within("", "example.com"));
    cr_assert_not(hosts_name_within("example.com", ""));
}

Test(hosts, evidence_is_cut_and_marked)
{
    struct hosts_ev ev;
    struct pb_findings f;
    struct pb_finding *fd;
    char big[3000];

    pb_findings_init(&f);
    fd = pb_findings_add(&f, "ptr", "ptr-test", PB_SEV_INFO, "test");
    memset(big, 'x', sizeof(big));
    hosts_ev_init(&ev);
    hosts_ev_add(&ev, big, sizeof(big));
    hosts_ev_add(&ev, "tail", 4);
    hosts_ev_attach(&ev, fd);
    cr_assert_not_null(fd->evidence);
    cr_assert_leq(fd->evidence_len, PB_FINDING_EVIDENCE_MAX);
    cr_assert_eq(fd->evidence[0], 'x');
    cr_assert_str_eq(fd->evidence + fd->evidence_len - 6, " [...]");
    pb_findings_release(&f);
}
