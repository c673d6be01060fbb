/* SPDX-License-Identifier: MIT */
/*
 * The block list check of `probe check` (dnsbl.h): DNS block lists as
 * RFC 5782 §2 describes them (reversed address or domain, then the zone,
 * asked for A; NXDOMAIN means not listed), the return codes of the
 * default lists (notes/providers.md (f)), and the answers that mean "could
 * not check": Spamhaus' 127.255.255.x, DBL's 127.0.1.255, and any address
 * outside 127.0.0.0/8 (a resolver that rewrites NXDOMAIN).
 */
#include "dnsbl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hosts_int.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/* Records written into one evidence line; the check's data holds them all. */
#define DNSBL_EV_RRS 16
/* Codes named in one message; the rest are counted. */
#define DNSBL_MSG_CODES 6

/* Return codes 127.B.C.LO to 127.B.C.HI, as struct dnsbl_code holds them. */
#define CODE(b, c, lo, hi)                                                 \
    (uint32_t)127 << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (lo), \
        (uint32_t)127 << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (hi)

static const struct dnsbl_code zen_codes[] = {
    {CODE(0, 0, 2, 2), DNSBL_CODE_LISTED, "SBL: Spamhaus Block List"},
    {CODE(0, 0, 3, 3), DNSBL_CODE_LISTED,
     "SBL CSS: low-reputation or snowshoe sender"},
    {CODE(0, 0, 4, 7), DNSBL_CODE_LISTED,
     "XBL: exploited host (malware, botnet, open proxy)"},
    {CODE(0, 0, 9, 9), DNSBL_CODE_LISTED,
     "DROP: hijacked or rogue network (Do not Route Or Peer)"},
    {CODE(0, 0, 10, 10), DNSBL_CODE_POLICY,
     "PBL, ISP-maintained: an end-user range that should not send "
     "direct-to-MX"},
    {CODE(0, 0, 11, 11), DNSBL_CODE_POLICY,
     "PBL, Spamhaus-maintained: an end-user range that should not send "
     "direct-to-MX"},
    {CODE(0, 0, 30, 30), DNSBL_CODE_LISTED, "BCL: botnet controller"},
};

static const struct dnsbl_code dbl_codes[] = {
    {CODE(0, 1, 2, 2), DNSBL_CODE_LISTED, "low reputation (spam) domain"},
    {CODE(0, 1, 4, 4), DNSBL_CODE_LISTED, "phishing domain"},
    {CODE(0, 1, 5, 5), DNSBL_CODE_LISTED, "malware domain"},
    {CODE(0, 1, 6, 6), DNSBL_CODE_LISTED, "botnet C&C domain"},
    {CODE(0, 1, 102, 102), DNSBL_CODE_LISTED, "abused legit domain: spam"},
    {CODE(0, 1, 103, 103), DNSBL_CODE_LISTED,
     "abused legit domain: spammed redirector"},
    {CODE(0, 1, 104, 104), DNSBL_CODE_LISTED, "abused legit domain: phishing"},
    {CODE(0, 1, 105, 105), DNSBL_CODE_LISTED, "abused legit domain: malware"},
    {CODE(0, 1, 106, 106), DNSBL_CODE_LISTED,
     "abused legit domain: botnet C&C"},
    {CODE(0, 1, 255, 255), DNSBL_CODE_ERROR,
     "error: an IP address was queried against the domain list"},
};

/*
 * Spamhaus' error answers, for every zone with is_spamhaus (providers.md
 * (f), from Spamhaus' "Using our public mirrors? Check your return codes
 * now"): never a listing.  Looked up after the zone's own codes.
 */
static const struct dnsbl_code spamhaus_error_codes[] = {
    {CODE(255, 255, 252, 252), DNSBL_CODE_ERROR,
     "error: typo in the block list zone name"},
    {CODE(255, 255, 254, 254), DNSBL_CODE_ERROR,
     "error: query through a public or open resolver, which Spamhaus "
     "refuses"},
    {CODE(255, 255, 255, 255), DNSBL_CODE_ERROR,
     "error: excessive number of queries"},
    {CODE(255, 255, 0, 255), DNSBL_CODE_ERROR, "error: Spamhaus error answer"},
};

static const struct dnsbl_code barracuda_codes[] = {
    {CODE(0, 0, 2, 2), DNSBL_CODE_LISTED,
     "listed on the Barracuda Reputation "
     "Block List"},
};

static const struct dnsbl_code spamcop_codes[] = {
    {CODE(0, 0, 2, 2), DNSBL_CODE_LISTED,
     "listed on the SpamCop Blocking List (recent spam reports)"},
};

#undef CODE
#define NCODES(v) (sizeof(v) / sizeof((v)[0]))

static const struct dnsbl_zone default_zones[] = {
    {"zen.spamhaus.org", DNSBL_KIND_IP, "Spamhaus ZEN", true, true,
     "https://check.spamhaus.org/", zen_codes, NCODES(zen_codes)},
    {"dbl.spamhaus.org", DNSBL_KIND_DOMAIN, "Spamhaus DBL", false, true,
     "https://check.spamhaus.org/", dbl_codes, NCODES(dbl_codes)},
    /* Barracuda answers only resolvers registered with it (free) */
    {"b.barracudacentral.org", DNSBL_KIND_IP, "Barracuda BRBL", false, false,
     "https://www.barracudacentral.org/rbl/removal-request", barracuda_codes,
     NCODES(barracuda_codes)},
    {"bl.spamcop.net", DNSBL_KIND_IP, "SpamCop", false, false,
     "https://www.spamcop.net/bl.shtml", spamcop_codes, NCODES(spamcop_codes)},
};

const struct dnsbl_zone *
dnsbl_default_zones(size_t *n)
{
    *n = NCODES(default_zones);
    return default_zones;
}

const char *
dnsbl_state_name(enum dnsbl_state s)
{
    switch (s) {
    case DNSBL_NOT_LISTED:
        return "not-listed";
    case DNSBL_LISTED:
        return "listed";
    case DNSBL_COULD_NOT_CHECK:
        return "could-not-check";
    case DNSBL_SKIPPED:
        return "skipped";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* Zones from the command line                                         */

static int
zone_fail(struct pb_err *err, enum pb_code code, const char *spec,
          const char *why)
{
    char shown[80];

    /* the spec is the user's text: escaped, and cut to fit a message */
    if (spec[0] == '\0')
        return pb_err_set(err, PB_STAGE_USAGE, code, "block list: %s", why);
    pb_escape_to(shown, sizeof(shown), spec, strlen(spec));
    return pb_err_set(err, PB_STAGE_USAGE, code, "block list `%s`: %s", shown,
                      why);
}

static bool
is_ldh(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
dnsbl_zone_parse(const char *spec, struct dnsbl_zone *out, struct pb_err *err)
{
    const char *zone, *colon;
    size_t len, i, label = 0, nlabels = 1;

    memset(out, 0, sizeof(*out));
    if (spec == NULL || spec[0] == '\0')
        return zone_fail(err, PB_E_USAGE, "", "empty block list zone");
    colon = strchr(spec, ':');
    out->kind = DNSBL_KIND_IP;
    zone = spec;
    if (colon != NULL) {
        size_t plen = (size_t)(colon - spec);

        if (plen == 2 && strncasecmp(spec, "ip", 2) == 0)
            out->kind = DNSBL_KIND_IP;
        else if (plen == 6 && strncasecmp(spec, "domain", 6) == 0)
            out->kind = DNSBL_KIND_DOMAIN;
        else
            return zone_fail(err, PB_E_USAGE, spec,
                             "unknown list kind: write ZONE, ip:ZONE or "
                             "domain:ZONE");
        zone = colon + 1;
    }
    len = strlen(zone);
    /* one trailing dot is the root, as in any name */
    if (len > 0 && zone[len - 1] == '.')
        len--;
    if (len == 0)
        return zone_fail(err, PB_E_USAGE, spec, "empty zone");
    if (len > DNSBL_ZONE_MAX)
        return zone_fail(err, PB_E_LIMIT, spec,
                         "zone longer than 237 octets (the query name "
                         "must fit in 253)");
    for (i = 0; i <= len; i++) {
        int c = i < len ? (unsigned char)zone[i] : '.';

        if (c == '.') {
            if (label == 0)
                return zone_fail(err, PB_E_USAGE, spec, "empty label");
            if (zone[i - 1] == '-')
                return zone_fail(err, PB_E_USAGE, spec, "label ends with '-'");
            if (i < len)
                nlabels++;
            label = 0;
            continue;
        }
        if (!is_ldh(c))
            return zone_fail(err, PB_E_USAGE, spec,
                             "zone holds a byte other than a letter, digit, "
                             "'-', '_' or '.'");
        if (label == 0 && c == '-')
            return zone_fail(err, PB_E_USAGE, spec, "label starts with '-'");
        if (++label > PB_LIMIT_DNS_LABEL)
            return zone_fail(err, PB_E_LIMIT, spec,
                             "label longer than 63 octets");
    }
    if (nlabels < 2)
        return zone_fail(err, PB_E_USAGE, spec,
                         "a zone has at least two labels (zen.spamhaus.org)");
    for (i = 0; i < len; i++) {
        char c = zone[i];

        out->zone[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out->zone[len] = '\0';
    for (i = 0; i < NCODES(default_zones); i++) {
        if (strcmp(default_zones[i].zone, out->zone) == 0 &&
            default_zones[i].kind == out->kind) {
            *out = default_zones[i];
            break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The audit                                                           */

static enum pb_status
sev_status(enum pb_severity s)
{
    switch (s) {
    case PB_SEV_WARN:
        return PB_STATUS_WARN;
    case PB_SEV_FAIL:
        return PB_STATUS_FAIL;
    case PB_SEV_ERROR:
        return PB_STATUS_ERROR;
    default:
        return PB_STATUS_OK;
    }
}

static struct pb_finding *
res_mark(struct dnsbl_result *res, struct pb_finding *fd)
{
    res->status = pb_status_worst(res->status, sev_status(fd->sev));
    return fd;
}

/* "zen.spamhaus.org (Spamhaus ZEN)" */
static void
zone_label(const struct dnsbl_zone *z, char *buf, size_t size)
{
    if (z->name != NULL)
        snprintf(buf, size, "%s (%s)", z->zone, z->name);
    else
        snprintf(buf, size, "%s", z->zone);
}

/* What one answer address means on zone z. */
/* The code of table (codes, n) that covers v, or NULL. */
static const struct dnsbl_code *
code_find(const struct dnsbl_code *codes, size_t n, uint32_t v)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (v >= codes[i].first && v <= codes[i].last)
            return &codes[i];
    return NULL;
}

static void
classify_code(const struct dnsbl_zone *z, struct dnsbl_answer_code *c)
{
    const struct dnsbl_code *k;
    uint32_t v;

    c->is_outside = c->addr.family != 4 || c->addr.a[0] != 127;
    if (c->is_outside) {
        c->kind = DNSBL_CODE_ERROR;
        c->meaning = "not a block list answer: outside 127.0.0.0/8 (a "
                     "resolver rewriting NXDOMAIN?)";
        return;
    }
    v = (uint32_t)c->addr.a[0] << 24 | (uint32_t)c->addr.a[1] << 16 |
        (uint32_t)c->addr.a[2] << 8 | c->addr.a[3];
    k = code_find(z->codes, z->ncodes, v);
    if (k == NULL && z->is_spamhaus)
        k = code_find(spamhaus_error_codes, NCODES(spamhaus_error_codes), v);
    if (k != NULL) {
        c->kind = k->kind;
        c->meaning = k->meaning;
        return;
    }
    c->kind = DNSBL_CODE_LISTED;
    c->meaning =
        z->codes != NULL ? "a code this list does not document" : "listed";
}

static void
classify_answer(const struct dnsbl_zone *z, struct dnsbl_result *res,
                const struct dns_answer *a)
{
    struct ipaddr ip;
    size_t i;
    bool has_error = false;

    snprintf(res->dns_status, sizeof(res->dns_status), "%s",
             dns_status_name(a));
    if (dns_answer_is_error(a)) {
        res->state = DNSBL_COULD_NOT_CHECK;
        return;
    }
    if (a->status == DNS_NXDOMAIN) {
        res->state = DNSBL_NOT_LISTED;
        return;
    }
    for (i = 0; i < a->nrr; i++) {
        struct dnsbl_answer_code *c;

        if (a->rr[i].type != DNS_TYPE_A || !hosts_rr_ip(&a->rr[i], &ip))
            continue;
        res->codes =
            pb_xreallocarray(res->codes, res->ncodes + 1, sizeof(*res->codes));
        c = &res->codes[res->ncodes++];
        memset(c, 0, sizeof(*c));
        c->addr = ip;
        classify_code(z, c);
        has_error = has_error || c->kind == DNSBL_CODE_ERROR;
    }
    /* NODATA: the name exists without an A record; no listing */
    if (res->ncodes == 0)
        res->state = DNSBL_NOT_LISTED;
    else if (has_error)
        res->state = DNSBL_COULD_NOT_CHECK;
    else
        res->state = DNSBL_LISTED;
}

/* "127.0.0.2 SBL: ..., 127.0.0.4 XBL: ..." of the codes of kind k. */
static void
codes_text(const struct dnsbl_result *res, enum dnsbl_code_kind k,
           struct pb_buf *b)
{
    size_t i, n = 0, shown = 0;
    char ip[64];

    for (i = 0; i < res->ncodes; i++) {
        if (res->codes[i].kind != k)
            continue;
        n++;
        if (shown == DNSBL_MSG_CODES)
            continue;
        ipaddr_format(&res->codes[i].addr, ip, sizeof(ip));
        if (pb_buf_addf(b, "%s%s (%s)", shown ? ", " : "", ip,
                        res->codes[i].meaning) == -1)
            return;
        shown++;
    }
    if (n > shown && pb_buf_addf(b, " and %zu more", n - shown) == -1)
        return;
}

static void
ev_result(struct pb_finding *fd, const struct dns_answer *a,
          const struct dns_answer *txt)
{
    struct hosts_ev ev;

    hosts_ev_init(&ev);
    hosts_ev_answer(&ev, a, DNSBL_EV_RRS);
    if (txt != NULL)
        hosts_ev_answer(&ev, txt, DNSBL_EV_RRS);
    hosts_ev_attach(&ev, fd);
}

static void
remedy_listed(struct pb_finding *fd, const struct dnsbl_zone *z,
              const struct dnsbl_result *res)
{
    const char *cause = res->is_ip ? "a compromised account or host, an open "
                                     "relay, mail to spam traps"
                                   : "spam advertising it, a compromised web "
                                     "site, phishing or malware pages";

    if (z->removal != NULL)
        pb_finding_remedy(fd,
                          "find and stop what got %s listed (%s), then "
                          "request delisting at %s",
                          res->target, cause, z->removal);
    else
        pb_finding_remedy(fd,
                          "find and stop what got %s listed (%s), then "
                          "follow the delisting procedure of %s (the TXT "
                          "record often links it)",
                          res->target, cause, z->zone);
}

/* True when res holds the code 127.B.C.D. */
static bool
has_code(const struct dnsbl_result *res, unsigned b, unsigned c, unsigned d)
{
    const unsigned char want[4] = {127, (unsigned char)b, (unsigned char)c,
                                   (unsigned char)d};
    size_t i;

    for (i = 0; i < res->ncodes; i++)
        if (res->codes[i].addr.family == 4 &&
            memcmp(res->codes[i].addr.a, want, 4) == 0)
            return true;
    return false;
}

static void
findings_listed(struct dnsbl_audit *out, const struct dnsbl_zone *z,
                struct dnsbl_result *res, const struct dns_answer *a,
                const struct dns_answer *txt)
{
    struct pb_finding *fd;
    struct pb_buf b;
    char zl[300];
    size_t i;
    bool has_listed = false, has_policy = false;

    zone_label(z, zl, sizeof(zl));
    for (i = 0; i < res->ncodes; i++) {
        has_listed = has_listed || res->codes[i].kind == DNSBL_CODE_LISTED;
        has_policy = has_policy || res->codes[i].kind == DNSBL_CODE_POLICY;
    }
    pb_buf_init(&b, 1024);
    if (has_listed) {
        codes_text(res, DNSBL_CODE_LISTED, &b);
        fd = res_mark(res,
                      pb_findings_add(&out->findings, "dnsbl", "dnsbl-listed",
                                      PB_SEV_FAIL, "%s is listed on %s: %s",
                                      res->target, zl, pb_buf_ptr(&b)));
        remedy_listed(fd, z, res);
        ev_result(fd, a, txt);
    }
    if (has_policy) {
        pb_buf_reset(&b);
        codes_text(res, DNSBL_CODE_POLICY, &b);
        fd = res_mark(
            res,
            pb_findings_add(&out->findings, "dnsbl", "dnsbl-pbl", PB_SEV_WARN,
                            "%s is on the policy list of %s: %s; receivers "
                            "using it refuse mail sent directly from it",
                            res->target, zl, pb_buf_ptr(&b)));
        pb_finding_remedy(fd,
                          "the PBL lists end-user ranges that should not "
                          "send direct-to-MX: relay through a smarthost "
                          "(your ISP's or provider's), or, for a mail server "
                          "on a static address you control, ask for its "
                          "removal at %s",
                          z->removal != NULL ? z->removal : z->zone);
        ev_result(fd, a, txt);
    }
    pb_buf_release(&b);
}

static void
findings_unchecked(struct dnsbl_audit *out, const struct dnsbl_zone *z,
                   struct dnsbl_result *res, const struct dns_answer *a,
                   const struct dns_answer *txt)
{
    struct pb_finding *fd;
    struct pb_buf b;
    char zl[300];
    size_t i;
    bool is_outside = false;

    zone_label(z, zl, sizeof(zl));
    if (res->ncodes == 0) {
        fd = res_mark(res, pb_findings_add(&out->findings, "dnsbl",
                                           "dnsbl-dns-error", PB_SEV_ERROR,
                                           "could not check %s on %s: %s",
                                           res->target, zl, res->dns_status));
        pb_finding_remedy(fd,
                          "check that your resolver can reach %s, then run "
                          "the check again",
                          z->zone);
        ev_result(fd, a, NULL);
        return;
    }
    pb_buf_init(&b, 1024);
    codes_text(res, DNSBL_CODE_ERROR, &b);
    for (i = 0; i < res->ncodes; i++)
        is_outside = is_outside || res->codes[i].is_outside;
    /* an error answer is never a listing, whatever else came with it */
    fd = res_mark(res,
                  pb_findings_add(&out->findings, "dnsbl",
                                  "dnsbl-could-not-check", PB_SEV_ERROR,
                                  "could not check %s on %s, the answer was "
                                  "not a listing: %s",
                                  res->target, zl, pb_buf_ptr(&b)));
    pb_buf_release(&b);
    if (is_outside)
        pb_finding_remedy(fd,
                          "query through a resolver that returns NXDOMAIN "
                          "as it is (not one that redirects unknown names), "
                          "then run the check again");
    else if (z->is_spamhaus && has_code(res, 255, 255, 252))
        pb_finding_remedy(fd, "check the spelling of the zone name %s",
                          z->zone);
    else if (z->is_spamhaus && has_code(res, 0, 1, 255))
        pb_finding_remedy(fd,
                          "ask %s about domains only (domain:%s), and "
                          "IP addresses on an IP list",
                          z->zone, z->zone);
    else if (z->is_spamhaus)
        pb_finding_remedy(fd, "query through your own resolver, not a public "
                              "one (8.8.8.8, 1.1.1.1, ...); or use a Spamhaus "
                              "DQS key");
    else
        pb_finding_remedy(fd,
                          "check the zone name %s and how its operator "
                          "wants to be queried, then run the check again",
                          z->zone);
    ev_result(fd, a, txt);
}

/* The query name: reversed address or the domain, then the zone. */
static char *
query_name(const struct dnsbl_zone *z, const struct ipaddr *ip,
           const char *domain)
{
    char rev[IPADDR_REVERSE_MAX];
    char *suffix;

    if (ip == NULL)
        return pb_xasprintf("%s.%s", domain, z->zone);
    ipaddr_reverse(ip, rev, sizeof(rev));
    /* "4.3.2.1.in-addr.arpa" -> "4.3.2.1." (RFC 5782 §2.1, §2.4) */
    suffix = strstr(rev, ip->family == 4 ? "in-addr.arpa" : "ip6.arpa");
    if (suffix != NULL)
        *suffix = '\0';
    return pb_xasprintf("%s%s", rev, z->zone);
}

static struct dnsbl_result *
result_add(struct dnsbl_audit *out, size_t *cap)
{
    struct dnsbl_result *res;

    if (out->nresults == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->results =
            pb_xreallocarray(out->results, *cap, sizeof(*out->results));
    }
    res = &out->results[out->nresults++];
    memset(res, 0, sizeof(*res));
    return res;
}

/* One finding per IPv6 address for the lists that have no IPv6 data. */
static void
note_skipped(struct dnsbl_audit *out, const char *ip, size_t first)
{
    struct pb_buf b;
    size_t i;

    pb_buf_init(&b, 4096);
    for (i = first; i < out->nresults; i++)
        if (out->results[i].state == DNSBL_SKIPPED &&
            pb_buf_addf(&b, "%s%s", b.len > 0 ? ", " : "",
                        out->zones[out->results[i].zone].zone) == -1)
            break;
    if (b.len > 0)
        pb_findings_add(
            &out->findings, "dnsbl", "dnsbl-ipv6-skipped", PB_SEV_INFO,
            "%s was not checked on %s: no IPv6 data there", ip, pb_buf_ptr(&b));
    pb_buf_release(&b);
}

/* Every (target, zone) pair as a result, skipped ones included. */
static void
plan(struct dnsbl_audit *out, const char *domain, const struct ipaddr *ips,
     size_t nips)
{
    size_t cap = 0, i, k, first;
    char text[64];

    for (i = 0; i < nips; i++) {
        struct ipaddr ip = ips[i];

        ipaddr_unmap(&ip);
        ipaddr_format(&ip, text, sizeof(text));
        first = out->nresults;
        for (k = 0; k < out->nzones; k++) {
            const struct dnsbl_zone *z = &out->zones[k];
            struct dnsbl_result *res;

            if (z->kind != DNSBL_KIND_IP)
                continue;
            res = result_add(out, &cap);
            res->target = pb_xstrdup(text);
            res->is_ip = true;
            res->zone = k;
            /* RFC 5782 §2.4: IPv6 only where the list publishes it */
            if (ip.family == 6 &&
                (!z->lists_ipv6 || strlen(z->zone) > DNSBL_ZONE_MAX_IPV6)) {
                res->state = DNSBL_SKIPPED;
                snprintf(res->dns_status, sizeof(res->dns_status), "-");
                continue;
            }
            res->qname = query_name(z, &ip, NULL);
        }
        note_skipped(out, text, first);
    }
    for (k = 0; domain != NULL && domain[0] != '\0' && k < out->nzones; k++) {
        struct dnsbl_result *res;

        if (out->zones[k].kind != DNSBL_KIND_DOMAIN)
            continue;
        res = result_add(out, &cap);
        res->target = pb_xstrdup(domain);
        for (i = 0; res->target[i] != '\0'; i++)
            if (res->target[i] >= 'A' && res->target[i] <= 'Z')
                res->target[i] = (char)(res->target[i] - 'A' + 'a');
        res->zone = k;
        res->qname = query_name(&out->zones[k], NULL, res->target);
    }
}

/* An answer from outside 127/8 came from elsewhere, and so would its TXT. */
static bool
wants_txt(const struct dnsbl_result *res)
{
    size_t i;

    if (res->ncodes == 0)
        return false;
    for (i = 0; i < res->ncodes; i++)
        if (res->codes[i].is_outside)
            return false;
    return true;
}

void
dnsbl_audit_run(struct dns_resolver *r, const char *domain,
                const struct ipaddr *ips, size_t nips,
                const struct dnsbl_zone *zones, size_t nzones,
                struct dnsbl_audit *out)
{
    struct dns_question *q;
    const struct dns_answer **a, **txt;
    size_t i, n, nip_zones = 0;

    memset(out, 0, sizeof(*out));
    pb_findings_init(&out->findings);
    if (nzones > 0) {
        out->zones = pb_xreallocarray(NULL, nzones, sizeof(*out->zones));
        memcpy(out->zones, zones, nzones * sizeof(*zones));
        out->nzones = nzones;
    }
    for (i = 0; i < nzones; i++)
        if (zones[i].kind == DNSBL_KIND_IP)
            nip_zones++;
    if (nips == 0 && nip_zones > 0) {
        struct pb_finding *fd = pb_findings_add(
            &out->findings, "dnsbl", "dnsbl-no-ip", PB_SEV_INFO,
            "no sending IP given: the %zu IP block lists were not asked",
            nip_zones);

        pb_finding_remedy(fd, "give --ip ADDR for each address that sends "
                              "mail for the domain");
    }
    plan(out, domain, ips, nips);
    if (out->nresults == 0)
        goto out;

    /* Every (target, zone) at once, then the TXT of every hit at once. */
    q = pb_xreallocarray(NULL, out->nresults, sizeof(*q));
    a = pb_xcalloc(out->nresults, sizeof(*a));
    txt = pb_xcalloc(out->nresults, sizeof(*txt));
    for (i = 0, n = 0; i < out->nresults; i++) {
        if (out->results[i].qname == NULL)
            continue;
        q[n].name = out->results[i].qname;
        q[n++].type = DNS_TYPE_A;
    }
    {
        const struct dns_answer **got = pb_xcalloc(n > 0 ? n : 1, sizeof(*got));

        dns_query_many(r, q, n, got);
        for (i = 0, n = 0; i < out->nresults; i++)
            if (out->results[i].qname != NULL)
                a[i] = got[n++];
        free(got);
    }
    for (i = 0, n = 0; i < out->nresults; i++) {
        struct dnsbl_result *res = &out->results[i];

        if (a[i] == NULL)
            continue;
        classify_answer(&out->zones[res->zone], res, a[i]);
        /* the list's TXT explains a listing or an error code */
        if (wants_txt(res)) {
            q[n].name = res->qname;
            q[n++].type = DNS_TYPE_TXT;
        }
    }
    {
        const struct dns_answer **got = pb_xcalloc(n > 0 ? n : 1, sizeof(*got));

        dns_query_many(r, q, n, got);
        for (i = 0, n = 0; i < out->nresults; i++) {
            struct dnsbl_result *res = &out->results[i];

            if (a[i] == NULL || !wants_txt(res))
                continue;
            txt[i] = got[n++];
        }
        free(got);
    }
    for (i = 0; i < out->nresults; i++) {
        struct dnsbl_result *res = &out->results[i];
        const struct dnsbl_zone *z = &out->zones[res->zone];
        const struct dns_answer *t = txt[i];

        if (t != NULL && t->status == DNS_OK &&
            dns_answer_count(t, DNS_TYPE_TXT) > 0) {
            struct pb_buf b;
            size_t k;

            pb_buf_init(&b, PB_LIMIT_DNS_MSG);
            for (k = 0; k < t->nrr; k++) {
                if (t->rr[k].type != DNS_TYPE_TXT)
                    continue;
                if ((b.len > 0 && pb_buf_add(&b, " | ", 3) == -1) ||
                    pb_buf_add(&b, t->rr[k].data, t->rr[k].len) == -1)
                    break;
            }
            res->txt = pb_buf_take(&b, &res->txt_len);
        }
        if (res->state == DNSBL_LISTED)
            findings_listed(out, z, res, a[i], t);
        else if (res->state == DNSBL_COULD_NOT_CHECK)
            findings_unchecked(out, z, res, a[i], t);
    }
    free(txt);
    free(a);
    free(q);
out:
    out->status = pb_findings_status(&out->findings);
}

void
dnsbl_audit_release(struct dnsbl_audit *a)
{
    size_t i;

    if (a == NULL)
        return;
    for (i = 0; i < a->nresults; i++) {
        free(a->results[i].target);
        free(a->results[i].qname);
        free(a->results[i].codes);
        free(a->results[i].txt);
    }
    free(a->results);
    free(a->zones);
    pb_findings_release(&a->findings);
    memset(a, 0, sizeof(*a));
}
