/* SPDX-License-Identifier: MIT */
/* The SPF audit of `probe check`: every finding id from a fixture case,
 * the worst-case lookup counts of the tree, and per-IP results. */
#include <criterion/criterion.h>
#include <string.h>

#include "analyze.h"
#include "testdata.h"

static struct dns_resolver *resolver;

static void
setup(void)
{
    resolver = testdata_resolver("spf/audit.json");
    cr_assert_not_null(resolver);
}

static void
teardown(void)
{
    dns_resolver_free(resolver);
}

TestSuite(spf_audit, .init = setup, .fini = teardown);

static const struct pb_finding *
find(const struct spf_audit *a, const char *id)
{
    return pb_findings_find(&a->findings, id, NULL);
}

static void
audit(const char *domain, const char *ip, struct spf_audit *a)
{
    struct ipaddr addr = {0};

    if (ip != NULL)
        cr_assert_eq(ipaddr_parse(ip, &addr), 0);
    spf_audit_run(resolver, domain, &addr, ip != NULL ? 1 : 0, a);
}

/* The domain yields this finding, with this severity, and a remedy. */
static void
expect(const char *domain, const char *ip, const char *id, enum pb_severity sev)
{
    struct spf_audit a;
    const struct pb_finding *fd;

    audit(domain, ip, &a);
    fd = find(&a, id);
    cr_assert_not_null(fd, "%s: no %s", domain, id);
    cr_assert_eq(fd->sev, sev, "%s: %s has severity %d", domain, id, fd->sev);
    cr_assert_not_null(fd->remedy, "%s: %s without a remedy", domain, id);
    cr_assert_str_eq(fd->check, "spf");
    spf_audit_release(&a);
}

Test(spf_audit, clean_record_has_no_findings)
{
    struct spf_audit a;

    audit("ok.test", "198.51.100.9", &a);
    cr_assert_eq(a.findings.n, 0, "first: %s",
                 a.findings.n ? a.findings.v[0].message : "");
    cr_assert_eq(a.status, PB_STATUS_OK);
    cr_assert_eq(a.dns_lookups, 1);
    cr_assert_eq(a.tree->nchildren, 1);
    cr_assert_str_eq(a.tree->children[0].node->domain, "_spf.prov.test");
    cr_assert_eq(a.nips, 1);
    cr_assert_eq(a.ips[0].result, SPF_PASS);
    spf_audit_release(&a);
}

Test(spf_audit, every_finding_id)
{
    expect("missing.test", NULL, "spf-missing", PB_SEV_FAIL);
    expect("multi.test", NULL, "spf-multiple-records", PB_SEV_FAIL);
    expect("syntax.test", NULL, "spf-syntax", PB_SEV_FAIL);
    expect("unknown.test", NULL, "spf-unknown-mechanism", PB_SEV_FAIL);
    expect("plusall.test", NULL, "spf-plus-all", PB_SEV_FAIL);
    expect("incplus.test", NULL, "spf-plus-all", PB_SEV_FAIL);
    expect("neutral.test", NULL, "spf-neutral-all", PB_SEV_WARN);
    expect("noall.test", NULL, "spf-no-all", PB_SEV_WARN);
    expect("ptr.test", NULL, "spf-ptr", PB_SEV_WARN);
    expect("void.test", NULL, "spf-void-lookup", PB_SEV_WARN);
    expect("voids3.test", NULL, "spf-too-many-void-lookups", PB_SEV_FAIL);
    expect("mxmany.test", NULL, "spf-mx-too-many", PB_SEV_FAIL);
    expect("glued.test", NULL, "spf-strings-glued", PB_SEV_FAIL);
    expect("split.test", NULL, "spf-term-split", PB_SEV_INFO);
    expect("redirign.test", NULL, "spf-redirect-ignored", PB_SEV_WARN);
    expect("loopa.test", NULL, "spf-loop", PB_SEV_FAIL);
    expect("incnone.test", NULL, "spf-include-none", PB_SEV_FAIL);
    expect("long.test", NULL, "spf-record-long", PB_SEV_WARN);
    expect("bigtxt.test", NULL, "spf-txt-answer-large", PB_SEV_INFO);
    expect("toomany.test", NULL, "spf-too-many-lookups", PB_SEV_FAIL);
    expect("near.test", NULL, "spf-lookups-near-limit", PB_SEV_WARN);
    expect("dnserr.test", NULL, "spf-dns-error", PB_SEV_ERROR);
    expect("tempinc.test", NULL, "spf-dns-error", PB_SEV_ERROR);
    expect("ok.test", "203.0.113.9", "spf-ip-fail", PB_SEV_FAIL);
    expect("soft.test", "203.0.113.9", "spf-ip-softfail", PB_SEV_WARN);
    expect("neutral.test", "203.0.113.9", "spf-ip-neutral", PB_SEV_WARN);
    expect("multi.test", "203.0.113.9", "spf-ip-permerror", PB_SEV_FAIL);
    expect("tempinc.test", "203.0.113.9", "spf-ip-temperror", PB_SEV_ERROR);
}

Test(spf_audit, worst_case_counts_the_whole_tree)
{
    struct spf_audit a;

    audit("toomany.test", NULL, &a);
    cr_assert_eq(a.dns_lookups, 11);
    cr_assert_eq(a.tree->lookups, 11);
    cr_assert_eq(a.tree->nchildren, 11);
    cr_assert(strstr(find(&a, "spf-too-many-lookups")->remedy, "flatten") !=
              NULL);
    cr_assert_eq(a.status, PB_STATUS_FAIL);
    spf_audit_release(&a);
    audit("voids3.test", NULL, &a);
    cr_assert_eq(a.void_lookups, 3);
    cr_assert_eq(a.dns_lookups, 3);
    spf_audit_release(&a);
}

Test(spf_audit, glued_strings_name_the_join)
{
    struct spf_audit a;
    const struct pb_finding *fd;

    audit("glued.test", NULL, &a);
    fd = find(&a, "spf-strings-glued");
    cr_assert(strstr(fd->message, "ip4:192.0.2.1include:_spf.prov.test") !=
                  NULL,
              "%s", fd->message);
    cr_assert_not_null(find(&a, "spf-syntax"), "the joined record fails");
    spf_audit_release(&a);
}

Test(spf_audit, macro_terms_are_counted_not_followed)
{
    struct spf_audit a;

    audit("dyn.test", NULL, &a);
    cr_assert_eq(a.dns_lookups, 2);
    cr_assert_eq(a.tree->nchildren, 1);
    cr_assert(a.tree->children[0].is_dynamic);
    cr_assert_null(a.tree->children[0].node);
    cr_assert_eq(a.findings.n, 0);
    spf_audit_release(&a);
}

Test(spf_audit, loop_is_reported_once_and_stops)
{
    struct spf_audit a;
    size_t loops = 0;

    audit("loopa.test", NULL, &a);
    for (size_t i = 0; i < a.findings.n; i++)
        loops += strcmp(a.findings.v[i].id, "spf-loop") == 0;
    cr_assert_eq(loops, 1);
    spf_audit_release(&a);
}
