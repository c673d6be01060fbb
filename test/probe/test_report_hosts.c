/* SPDX-License-Identifier: MIT */
/*
 * The MX, PTR and DNSBL reports (probe/report_hosts.c): the JSON objects
 * of `probe check` and the text data lines, from the fixtures of
 * test/data/hosts/, with hostile names and TXT bytes escaped.  The report
 * files are part of the probe executable, not a library, so they are
 * compiled in here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analyze.h"
#include "report.h"
#include "testdata.h"

static struct dns_resolver *resolver;

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
teardown(void)
{
    dns_resolver_free(resolver);
    resolver = NULL;
}

TestSuite(report_hosts, .fini = teardown);

/* Print o and parse it back: what a consumer of --json sees. */
static cJSON *
roundtrip(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON *back;

    cr_assert_not_null(s);
    back = cJSON_Parse(s);
    cr_assert_not_null(back, "not JSON: %s", s);
    cJSON_free(s);
    cJSON_Delete(o);
    return back;
}

static const char *
str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    cr_assert(cJSON_IsString(v), "%s is not a string", key);
    return v->valuestring;
}

static const cJSON *
arr(const cJSON *o, const char *key, int n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    cr_assert(cJSON_IsArray(v), "%s is not an array", key);
    if (n >= 0)
        cr_assert_eq(cJSON_GetArraySize(v), n, "%s: %d items", key,
                     cJSON_GetArraySize(v));
    return v;
}

static void
assert_printable(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        cr_assert(s[i] == '\n' || (s[i] >= 0x20 && s[i] < 0x7f),
                  "raw byte 0x%02x at %zu", (unsigned char)s[i], i);
}

/* Text output of fn into a string the test frees. */
#define CAPTURE(buf, len, call)                    \
    do {                                           \
        FILE *f_ = open_memstream(&(buf), &(len)); \
        cr_assert_not_null(f_);                    \
        call;                                      \
        fclose(f_);                                \
    } while (0)

/* ------------------------------------------------------------------ */
/* MX                                                                  */

Test(report_hosts, mx_json_has_records_and_findings)
{
    struct mx_audit a;
    cJSON *o;
    const cJSON *r;

    open_fixture("hosts/mx.json");
    mx_audit_run(resolver, "ok.example", &a);
    o = roundtrip(report_mx_json(&a));
    cr_assert_str_eq(str(o, "status"), "ok");
    cr_assert_str_eq(str(o, "lookup"), "NOERROR");
    r = cJSON_GetArrayItem(arr(o, "records", 2), 0);
    cr_assert_eq(cJSON_GetObjectItem(r, "preference")->valueint, 10);
    cr_assert_str_eq(str(r, "exchange"), "mx1.ok.example");
    cr_assert_str_eq(cJSON_GetArrayItem(arr(r, "addresses", 2), 1)->valuestring,
                     "2001:db8::10");
    cr_assert_str_eq(str(r, "status"), "ok");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "null_mx")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "implicit")));
    arr(o, "implicit_addresses", 0);
    arr(o, "findings", 0);
    cJSON_Delete(o);
    mx_audit_release(&a);
}

Test(report_hosts, mx_json_null_mx_shows_the_root)
{
    struct mx_audit a;
    cJSON *o;
    const cJSON *fd;

    open_fixture("hosts/mx.json");
    mx_audit_run(resolver, "null.example", &a);
    o = roundtrip(report_mx_json(&a));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "null_mx")));
    cr_assert_str_eq(
        str(cJSON_GetArrayItem(arr(o, "records", 1), 0), "exchange"), ".");
    fd = cJSON_GetArrayItem(arr(o, "findings", 2), 1);
    cr_assert_str_eq(str(fd, "id"), "mx-null-sender");
    cr_assert_str_eq(str(fd, "severity"), "warn");
    cr_assert_str_eq(str(o, "status"), "warn");
    cJSON_Delete(o);
    mx_audit_release(&a);
}

Test(report_hosts, mx_json_escapes_hostile_exchanges)
{
    struct mx_audit a;
    cJSON *o;

    open_fixture("hosts/mx.json");
    mx_audit_run(resolver, "invalid.example", &a);
    o = roundtrip(report_mx_json(&a));
    cr_assert_str_eq(
        str(cJSON_GetArrayItem(arr(o, "records", 1), 0), "exchange"),
        "bad\\x01host.invalid.example");
    cr_assert_not_null(
        strstr(str(cJSON_GetArrayItem(arr(o, "findings", 1), 0), "message"),
               "bad\\x01host"));
    cJSON_Delete(o);
    mx_audit_release(&a);
}

Test(report_hosts, mx_json_implicit_addresses)
{
    struct mx_audit a;
    cJSON *o;

    open_fixture("hosts/mx.json");
    mx_audit_run(resolver, "implicit.example", &a);
    o = roundtrip(report_mx_json(&a));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "implicit")));
    cr_assert_str_eq(
        cJSON_GetArrayItem(arr(o, "implicit_addresses", 1), 0)->valuestring,
        "192.0.2.20");
    arr(o, "records", 0);
    cJSON_Delete(o);
    mx_audit_release(&a);
}

Test(report_hosts, mx_text_lines)
{
    const struct report_style *st = report_style_get(false);
    struct mx_audit a;
    char *buf = NULL;
    size_t len = 0;

    open_fixture("hosts/mx.json");
    mx_audit_run(resolver, "mixed.example", &a);
    CAPTURE(buf, len, report_mx_text(f_, &a, st));
    cr_assert_str_eq(buf, "  0 .  (null MX: accepts no mail)  fail\n"
                          "  10 mx1.ok.example  192.0.2.10, 2001:db8::10\n");
    free(buf);
    mx_audit_release(&a);

    mx_audit_run(resolver, "invalid.example", &a);
    CAPTURE(buf, len, report_mx_text(f_, &a, st));
    assert_printable(buf, len);
    cr_assert_not_null(strstr(buf, "bad\\x01host"));
    free(buf);
    mx_audit_release(&a);

    mx_audit_run(resolver, "implicit.example", &a);
    CAPTURE(buf, len, report_mx_text(f_, &a, st));
    cr_assert_str_eq(buf, "  no MX records; implicit MX implicit.example: "
                          "192.0.2.20\n");
    free(buf);
    mx_audit_release(&a);

    /* nothing to show: the findings say it */
    mx_audit_run(resolver, "gone.example", &a);
    CAPTURE(buf, len, report_mx_text(f_, &a, st));
    cr_assert_eq(len, 0);
    free(buf);
    mx_audit_release(&a);
}

Test(report_hosts, mx_text_caps_addresses_on_a_line)
{
    struct mx_audit a;
    char *buf = NULL;
    size_t len = 0;

    open_fixture("hosts/mx-many.json");
    mx_audit_run(resolver, "wide.example", &a);
    CAPTURE(buf, len, report_mx_text(f_, &a, report_style_get(false)));
    cr_assert_not_null(strstr(buf, "203.0.113.8, ... (200 addresses)"));
    free(buf);
    mx_audit_release(&a);
}

/* ------------------------------------------------------------------ */
/* PTR                                                                 */

static void
ptr_run(const char *ip, struct ptr_audit *a)
{
    struct ipaddr v;

    cr_assert_eq(ipaddr_parse(ip, &v), 0);
    ptr_audit_run(resolver, "example.com", &v, 1, a);
}

Test(report_hosts, ptr_json_per_ip)
{
    struct ptr_audit a;
    cJSON *o;
    const cJSON *ip, *fw;

    open_fixture("hosts/ptr.json");
    ptr_run("192.0.2.8", &a);
    o = roundtrip(report_ptr_json(&a));
    cr_assert_str_eq(str(o, "status"), "warn");
    ip = cJSON_GetArrayItem(arr(o, "ips", 1), 0);
    cr_assert_str_eq(str(ip, "ip"), "192.0.2.8");
    cr_assert_str_eq(str(ip, "reverse"), "8.2.0.192.in-addr.arpa");
    cr_assert_str_eq(str(ip, "lookup"), "NOERROR");
    cr_assert_str_eq(cJSON_GetArrayItem(arr(ip, "ptr", 1), 0)->valuestring,
                     "host-192-0-2-8.isp.example");
    fw = cJSON_GetArrayItem(arr(ip, "forward", 1), 0);
    cr_assert_str_eq(str(fw, "name"), "host-192-0-2-8.isp.example");
    cr_assert_str_eq(str(fw, "lookup"), "NOERROR");
    cr_assert_str_eq(
        cJSON_GetArrayItem(arr(fw, "addresses", 1), 0)->valuestring,
        "192.0.2.8");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(fw, "generic")));
    cr_assert_not_null(strstr(str(fw, "generic_reason"), "192-0-2-8"));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(ip, "confirmed")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(ip, "generic")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(ip, "in_domain")));
    cr_assert_str_eq(str(ip, "status"), "warn");
    arr(o, "findings", 2);
    cJSON_Delete(o);
    ptr_audit_release(&a);
}

Test(report_hosts, ptr_json_escapes_hostile_names)
{
    struct ptr_audit a;
    cJSON *o;
    const cJSON *ip;
    const char *name;
    char *s;

    open_fixture("hosts/ptr.json");
    ptr_run("192.0.2.14", &a);
    o = report_ptr_json(&a);
    s = cJSON_PrintUnformatted(o);
    assert_printable(s, strlen(s));
    cJSON_free(s);
    o = roundtrip(o);
    ip = cJSON_GetArrayItem(arr(o, "ips", 1), 0);
    name = cJSON_GetArrayItem(arr(ip, "ptr", 1), 0)->valuestring;
    cr_assert_eq(strncmp(name, "\\x01\\x7f\\x80", 12), 0, "%s", name);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(
        cJSON_GetArrayItem(arr(ip, "forward", 1), 0), "lookup")));
    cJSON_Delete(o);
    ptr_audit_release(&a);
}

Test(report_hosts, ptr_text_lines)
{
    const struct report_style *st = report_style_get(false);
    struct ipaddr v[3];
    struct ptr_audit a;
    char *buf = NULL;
    size_t len = 0;

    open_fixture("hosts/ptr.json");
    cr_assert_eq(ipaddr_parse("192.0.2.5", &v[0]), 0);
    cr_assert_eq(ipaddr_parse("192.0.2.6", &v[1]), 0);
    cr_assert_eq(ipaddr_parse("192.0.2.12", &v[2]), 0);
    ptr_audit_run(resolver, "example.com", v, 3, &a);
    CAPTURE(buf, len, report_ptr_text(f_, &a, st));
    cr_assert_str_eq(buf, "  192.0.2.5: forward-confirmed\n"
                          "    PTR mail.example.com -> 192.0.2.5, "
                          "192.0.2.18\n"
                          "  192.0.2.6: no PTR (NXDOMAIN)  fail\n"
                          "  192.0.2.12: not forward-confirmed  error\n"
                          "    PTR fwd-timeout.example.com -> (TIMEOUT)\n");
    free(buf);
    ptr_audit_release(&a);

    ptr_run("192.0.2.14", &a);
    CAPTURE(buf, len, report_ptr_text(f_, &a, st));
    assert_printable(buf, len);
    cr_assert_not_null(strstr(buf, "(not looked up)"));
    free(buf);
    ptr_audit_release(&a);
}

/* ------------------------------------------------------------------ */
/* DNSBL                                                               */

static void
dnsbl_run(const char *domain, const char *ip, struct dnsbl_audit *a)
{
    size_t nz;
    const struct dnsbl_zone *z = dnsbl_default_zones(&nz);
    struct ipaddr v;

    cr_assert_eq(ipaddr_parse(ip, &v), 0);
    dnsbl_audit_run(resolver, domain, &v, 1, z, nz, a);
}

Test(report_hosts, dnsbl_json_zones_and_results)
{
    struct dnsbl_audit a;
    cJSON *o;
    const cJSON *z, *r, *c;

    open_fixture("hosts/dnsbl.json");
    dnsbl_run("clean.example", "192.0.2.2", &a);
    o = roundtrip(report_dnsbl_json(&a));
    cr_assert_str_eq(str(o, "status"), "fail");
    z = cJSON_GetArrayItem(arr(o, "zones", 4), 1);
    cr_assert_str_eq(str(z, "zone"), "dbl.spamhaus.org");
    cr_assert_str_eq(str(z, "kind"), "domain");
    cr_assert_str_eq(str(z, "name"), "Spamhaus DBL");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(z, "ipv6")));
    r = cJSON_GetArrayItem(arr(o, "results", 4), 0);
    cr_assert_str_eq(str(r, "target"), "192.0.2.2");
    cr_assert_str_eq(str(r, "kind"), "ip");
    cr_assert_str_eq(str(r, "zone"), "zen.spamhaus.org");
    cr_assert_str_eq(str(r, "query"), "2.2.0.192.zen.spamhaus.org");
    cr_assert_str_eq(str(r, "state"), "listed");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "listed")));
    cr_assert_str_eq(str(r, "lookup"), "NOERROR");
    c = cJSON_GetArrayItem(arr(r, "codes", 2), 0);
    cr_assert_str_eq(str(c, "code"), "127.0.0.2");
    cr_assert_str_eq(str(c, "kind"), "listed");
    cr_assert_str_eq(str(c, "meaning"), "SBL: Spamhaus Block List");
    cr_assert_str_eq(str(r, "txt"),
                     "https://check.spamhaus.org/sbl/query/SBL000000");
    cr_assert_str_eq(str(r, "status"), "fail");
    r = cJSON_GetArrayItem(arr(o, "results", 4), 3);
    cr_assert_str_eq(str(r, "target"), "clean.example");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(r, "listed")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "txt")));
    cr_assert_str_eq(str(cJSON_GetArrayItem(arr(o, "findings", 1), 0), "id"),
                     "dnsbl-listed");
    cJSON_Delete(o);
    dnsbl_audit_release(&a);
}

Test(report_hosts, dnsbl_json_could_not_check_is_not_a_listing)
{
    struct dnsbl_audit a;
    cJSON *o;
    const cJSON *r;

    open_fixture("hosts/dnsbl.json");
    dnsbl_run(NULL, "192.0.2.4", &a);
    o = roundtrip(report_dnsbl_json(&a));
    r = cJSON_GetArrayItem(arr(o, "results", 3), 0);
    cr_assert_str_eq(str(r, "state"), "could-not-check");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "listed")));
    cr_assert_str_eq(str(cJSON_GetArrayItem(arr(r, "codes", 1), 0), "kind"),
                     "error");
    cr_assert_str_eq(str(r, "status"), "error");
    cr_assert_str_eq(str(o, "status"), "error");
    cJSON_Delete(o);
    dnsbl_audit_release(&a);
}

Test(report_hosts, dnsbl_json_skipped_ipv6)
{
    struct dnsbl_audit a;
    cJSON *o;
    const cJSON *r;

    open_fixture("hosts/dnsbl.json");
    dnsbl_run(NULL, "2001:db8::2", &a);
    o = roundtrip(report_dnsbl_json(&a));
    r = cJSON_GetArrayItem(arr(o, "results", 3), 2);
    cr_assert_str_eq(str(r, "state"), "skipped");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "query")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r, "listed")));
    cJSON_Delete(o);
    dnsbl_audit_release(&a);
}

Test(report_hosts, dnsbl_hostile_txt_is_escaped_everywhere)
{
    struct dnsbl_audit a;
    cJSON *o;
    char *buf = NULL, *s;
    size_t len = 0;

    open_fixture("hosts/dnsbl.json");
    dnsbl_run(NULL, "192.0.2.14", &a);
    o = report_dnsbl_json(&a);
    s = cJSON_PrintUnformatted(o);
    assert_printable(s, strlen(s));
    cJSON_free(s);
    o = roundtrip(o);
    cr_assert_str_eq(str(cJSON_GetArrayItem(arr(o, "results", 3), 0), "txt"),
                     "\\x00\\xff\\x1b[31mtail\\nline");
    cJSON_Delete(o);
    CAPTURE(buf, len, report_dnsbl_text(f_, &a, report_style_get(false)));
    assert_printable(buf, len);
    cr_assert_not_null(
        strstr(buf, "    TXT \"\\x00\\xff\\x1b[31mtail\\nline\"\n"));
    free(buf);
    dnsbl_audit_release(&a);
}

Test(report_hosts, dnsbl_text_lines)
{
    struct dnsbl_audit a;
    char *buf = NULL;
    size_t len = 0;

    open_fixture("hosts/dnsbl.json");
    dnsbl_run("clean.example", "192.0.2.6", &a);
    CAPTURE(buf, len, report_dnsbl_text(f_, &a, report_style_get(false)));
    cr_assert_str_eq(buf,
                     "  192.0.2.6 on zen.spamhaus.org: not listed\n"
                     "  192.0.2.6 on b.barracudacentral.org: listed 127.0.0.2 "
                     "(listed on the Barracuda Reputation Block List)\n"
                     "  192.0.2.6 on bl.spamcop.net: could not check "
                     "(TIMEOUT)\n"
                     "  clean.example on dbl.spamhaus.org: not listed\n");
    free(buf);
    dnsbl_audit_release(&a);
}

Test(report_hosts, colour_only_when_asked)
{
    struct dnsbl_audit a;
    char *buf = NULL;
    size_t len = 0;

    open_fixture("hosts/dnsbl.json");
    dnsbl_run(NULL, "192.0.2.2", &a);
    CAPTURE(buf, len, report_dnsbl_text(f_, &a, report_style_get(true)));
    cr_assert_not_null(strstr(buf, "\033[31mlisted\033[0m"));
    free(buf);
    CAPTURE(buf, len, report_dnsbl_text(f_, &a, report_style_get(false)));
    cr_assert_null(strchr(buf, '\033'));
    free(buf);
    dnsbl_audit_release(&a);
}
