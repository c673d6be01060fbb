/* SPDX-License-Identifier: MIT */
/*
 * The PTR check of `probe check` (ptr.h): reverse DNS of each sending IP,
 * forward confirmation of its names (FCrDNS, the "iprev" of RFC 8601 §3),
 * and a generic-name heuristic like those receivers apply to dynamic and
 * residential ranges.  Gmail requires valid forward and reverse DNS of
 * every sender (notes/providers.md (e); 4.7.23 / 5.7.25).
 */
#include "ptr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosts_int.h"
#include "pb_ctype.h"
#include "pb_xalloc.h"

/* Records written into one evidence line; the check's data holds them all. */
#define PTR_EV_RRS 16

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

/* ------------------------------------------------------------------ */
/* Generic names                                                       */

/*
 * True when needle occurs in name with no byte of its class (digits, or
 * hex digits when hex) right before or after it: "1-2-3-4" is not found in
 * "11-2-3-45".  Case-insensitive for the hex letters.
 */
static bool
find_bounded(const char *name, const char *needle, bool hex)
{
    size_t n = strlen(name), k = strlen(needle), i, j;

    for (i = 0; k > 0 && i + k <= n; i++) {
        for (j = 0; j < k; j++) {
            int c = (unsigned char)name[i + j];

            if (c >= 'A' && c <= 'Z')
                c = c - 'A' + 'a';
            if (c != needle[j])
                break;
        }
        if (j < k)
            continue;
        if (i > 0 && (hex ? pb_is_hex((unsigned char)name[i - 1])
                          : pb_is_digit((unsigned char)name[i - 1])))
            continue;
        if (i + k < n && (hex ? pb_is_hex((unsigned char)name[i + k])
                              : pb_is_digit((unsigned char)name[i + k])))
            continue;
        return true;
    }
    return false;
}

static bool
why_set(char *why, size_t size, const char *what, const char *form)
{
    if (size > 0)
        snprintf(why, size, "%s %s", what, form);
    return true;
}

static bool
generic_digits4(const char *name, const unsigned char *a, char *why,
                size_t size)
{
    static const char seps[] = "-._";
    char form[64];
    size_t i;

    for (i = 0; i < sizeof(seps) - 1; i++) {
        char s = seps[i];

        snprintf(form, sizeof(form), "%u%c%u%c%u%c%u", a[0], s, a[1], s, a[2],
                 s, a[3]);
        if (find_bounded(name, form, false))
            return why_set(why, size, "the address digits", form);
        snprintf(form, sizeof(form), "%u%c%u%c%u%c%u", a[3], s, a[2], s, a[1],
                 s, a[0]);
        if (find_bounded(name, form, false))
            return why_set(why, size, "the address digits reversed", form);
        snprintf(form, sizeof(form), "%03u%c%03u%c%03u%c%03u", a[0], s, a[1], s,
                 a[2], s, a[3]);
        if (find_bounded(name, form, false))
            return why_set(why, size, "the address digits", form);
    }
    snprintf(form, sizeof(form), "%03u%03u%03u%03u", a[0], a[1], a[2], a[3]);
    if (find_bounded(name, form, false))
        return why_set(why, size, "the address digits", form);
    snprintf(form, sizeof(form), "%02x%02x%02x%02x", a[0], a[1], a[2], a[3]);
    if (find_bounded(name, form, true))
        return why_set(why, size, "the address in hex", form);
    return false;
}

static bool
generic_digits6(const char *name, const struct ipaddr *ip, char *why,
                size_t size)
{
    char form[64], text[64];
    size_t i, n = 0;

    for (i = 0; i < 16; i++)
        n += (size_t)snprintf(form + n, sizeof(form) - n, "%02x", ip->a[i]);
    if (find_bounded(name, form, true))
        return why_set(why, size, "the address in hex", form);
    /* the groups without leading zeros, joined by '-' or '.' */
    for (n = 0, i = 0; i < 16; i += 2)
        n += (size_t)snprintf(form + n, sizeof(form) - n, "%s%x", i ? "-" : "",
                              (unsigned)(ip->a[i] << 8 | ip->a[i + 1]));
    if (find_bounded(name, form, true))
        return why_set(why, size, "the address groups", form);
    for (i = 0; form[i] != '\0'; i++)
        if (form[i] == '-')
            form[i] = '.';
    if (find_bounded(name, form, true))
        return why_set(why, size, "the address groups", form);
    /* RFC 5952 text with ':' made '-' (2001-db8--5) */
    ipaddr_format(ip, text, sizeof(text));
    for (i = 0; text[i] != '\0'; i++)
        if (text[i] == ':')
            text[i] = '-';
    if (strchr(text, '-') != NULL && find_bounded(name, text, true))
        return why_set(why, size, "the address", text);
    return false;
}

/*
 * Words ISPs put in PTR names of dynamic, residential and pooled ranges
 * (the same signals as SpamAssassin's RDNS_DYNAMIC and Spamhaus' PBL
 * guidance), matched as whole alphabetic runs of a label.
 */
static const char *const generic_tokens[] = {
    "adsl",    "broadband",  "cable",     "catv",     "client",
    "clients", "cpe",        "cust",      "customer", "customers",
    "dhcp",    "dial",       "dialin",    "dialup",   "dsl",
    "dyn",     "dynamic",    "dynamicip", "fios",     "ftth",
    "hsd",     "pool",       "ppp",       "pppoe",    "residential",
    "sdsl",    "unassigned", "vdsl",      "xdsl",
};

static bool
is_token(const char *p, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(generic_tokens) / sizeof(generic_tokens[0]); i++)
        if (strlen(generic_tokens[i]) == len &&
            strncmp(generic_tokens[i], p, len) == 0)
            return true;
    return false;
}

/* One label: its alphabetic runs, compared lower-cased. */
static bool
generic_label(const char *label, size_t len, char *why, size_t size)
{
    char run[32], prev[32] = "";
    size_t i = 0, k;
    bool has_digit = false;

    for (k = 0; k < len; k++)
        if (pb_is_digit((unsigned char)label[k]))
            has_digit = true;
    while (i < len) {
        size_t n = 0;

        while (i < len && !pb_is_alpha((unsigned char)label[i]))
            i++;
        while (i < len && pb_is_alpha((unsigned char)label[i])) {
            if (n < sizeof(run) - 1) {
                int c = (unsigned char)label[i];

                run[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            }
            i++;
        }
        run[n] = '\0';
        if (n == 0)
            break;
        if (is_token(run, n))
            return why_set(why, size, "the word", run);
        if (strcmp(run, "ip") == 0 && strcmp(prev, "static") == 0)
            return why_set(why, size, "the words", "static-ip");
        /* "ip-198-51-100-7", "ip68": ip followed by digits */
        if (strcmp(run, "ip") == 0 && has_digit &&
            (i == len || !pb_is_alpha((unsigned char)label[i])))
            return why_set(why, size, "the word", "ip with digits");
        memcpy(prev, run, n + 1);
    }
    return false;
}

bool
ptr_name_is_generic(const char *name, const struct ipaddr *ip, char *why,
                    size_t size)
{
    struct ipaddr v = *ip;
    size_t nlabels = 1, i, start = 0, label = 0;

    if (size > 0)
        why[0] = '\0';
    ipaddr_unmap(&v);
    if (v.family == 4 ? generic_digits4(name, v.a, why, size)
                      : generic_digits6(name, &v, why, size))
        return true;
    for (i = 0; name[i] != '\0'; i++)
        if (name[i] == '.')
            nlabels++;
    /*
     * Words count left of the last two labels only: those are (about) the
     * registered domain, and "dyn.com" or "cable.example" may be a name.
     */
    for (i = 0;; i++) {
        if (name[i] == '.' || name[i] == '\0') {
            if (label + 2 < nlabels &&
                generic_label(name + start, i - start, why, size))
                return true;
            label++;
            start = i + 1;
        }
        if (name[i] == '\0')
            break;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* The audit                                                           */

/* Count fd against the IP it is about. */
static struct pb_finding *
ip_mark(struct ptr_ip *p, struct pb_finding *fd)
{
    p->status = pb_status_worst(p->status, sev_status(fd->sev));
    return fd;
}

/* "mail.example.com", or a placeholder when no domain was given. */
static const char *
suggested(const struct ptr_audit *out, char *buf, size_t size)
{
    if (out->domain == NULL || out->domain[0] == '\0')
        return "mail.<your domain>";
    snprintf(buf, size, "mail.%s", out->domain);
    return buf;
}

static void
ev_ip(struct pb_finding *fd, const struct ptr_ip *p,
      const struct dns_answer *ptr, const struct dns_answer *const *fwd)
{
    struct hosts_ev ev;
    size_t i;

    hosts_ev_init(&ev);
    hosts_ev_answer(&ev, ptr, PTR_EV_RRS);
    for (i = 0; fwd != NULL && i < p->nnames; i++)
        if (fwd[i] != NULL)
            hosts_ev_answer(&ev, fwd[i], PTR_EV_RRS);
    hosts_ev_attach(&ev, fd);
}

/* The names of one IP's PTR answer, before any finding. */
static void
parse_names(struct ptr_audit *out, struct ptr_ip *p, const struct dns_answer *a)
{
    size_t i, n = 0;

    p->ptr_status = a->status;
    snprintf(p->lookup, sizeof(p->lookup), "%s", dns_status_name(a));
    if (a->status != DNS_OK)
        return;
    for (i = 0; i < a->nrr; i++)
        if (a->rr[i].type == DNS_TYPE_PTR)
            p->nnames++;
    if (p->nnames == 0)
        return;
    p->names = pb_xcalloc(p->nnames, sizeof(*p->names));
    for (i = 0; i < a->nrr; i++) {
        struct ptr_name *nm;

        if (a->rr[i].type != DNS_TYPE_PTR)
            continue;
        nm = &p->names[n++];
        nm->name = pb_xstrdup(a->rr[i].data);
        nm->forward_status = DNS_ERROR;
        nm->is_in_domain =
            out->domain != NULL && hosts_name_within(nm->name, out->domain);
        p->is_in_domain = p->is_in_domain || nm->is_in_domain;
        if (!hosts_name_is_host(nm->name))
            continue;
        nm->is_checked = n <= PTR_AUDIT_MAX_NAMES;
        nm->is_generic = ptr_name_is_generic(nm->name, &p->ip, nm->generic_why,
                                             sizeof(nm->generic_why));
        p->is_generic = p->is_generic || nm->is_generic;
    }
}

/* Findings on the PTR answer and its names; false when there are none. */
static bool
audit_ptr(struct ptr_audit *out, struct ptr_ip *p, const struct dns_answer *a)
{
    struct pb_finding *fd;
    char mail[300];
    size_t i;

    if (dns_answer_is_error(a)) {
        fd = ip_mark(p, pb_findings_add(&out->findings, "ptr", "ptr-dns-error",
                                        PB_SEV_ERROR,
                                        "the PTR lookup for %s failed: %s",
                                        p->text, dns_status_name(a)));
        pb_finding_remedy(fd,
                          "check that the reverse zone of %s answers (%s), "
                          "then run the check again",
                          p->text, p->reverse);
        ev_ip(fd, p, a, NULL);
        return false;
    }
    if (p->nnames == 0) {
        fd = ip_mark(p,
                     pb_findings_add(
                         &out->findings, "ptr", "ptr-missing", PB_SEV_FAIL,
                         "no PTR record for %s (%s): most receivers "
                         "reject or junk mail from an IP without "
                         "reverse DNS, and Gmail requires it of every "
                         "sender",
                         p->text,
                         a->status == DNS_OK ? "NODATA" : dns_status_name(a)));
        pb_finding_remedy(fd,
                          "ask your ISP or hosting provider (whoever holds "
                          "%s) to publish a PTR for %s naming a host such as "
                          "%s, and publish that name's %s record pointing "
                          "back to %s",
                          p->text, p->text, suggested(out, mail, sizeof(mail)),
                          p->ip.family == 4 ? "A" : "AAAA", p->text);
        ev_ip(fd, p, a, NULL);
        return false;
    }
    for (i = 0; i < p->nnames; i++) {
        const struct ptr_name *nm = &p->names[i];

        if (!hosts_name_is_host(nm->name)) {
            fd = ip_mark(
                p, pb_findings_add(&out->findings, "ptr", "ptr-name-invalid",
                                   PB_SEV_WARN,
                                   "the PTR name %s of %s is not a valid host "
                                   "name: nobody can look it up",
                                   nm->name[0] ? nm->name : ".", p->text));
            pb_finding_remedy(fd,
                              "have the PTR of %s changed to a host name "
                              "such as %s",
                              p->text, suggested(out, mail, sizeof(mail)));
            ev_ip(fd, p, a, NULL);
        } else if (nm->is_generic) {
            fd = ip_mark(
                p, pb_findings_add(&out->findings, "ptr", "ptr-generic",
                                   PB_SEV_WARN,
                                   "the PTR name %s of %s looks generic or "
                                   "residential (it holds %s): receivers score "
                                   "or block such names as dynamic ranges",
                                   nm->name, p->text, nm->generic_why));
            pb_finding_remedy(fd,
                              "ask your ISP or hosting provider to set the "
                              "PTR of %s to a name like %s that resolves "
                              "back to %s",
                              p->text, suggested(out, mail, sizeof(mail)),
                              p->text);
            ev_ip(fd, p, a, NULL);
        }
    }
    if (p->nnames > 1) {
        fd = ip_mark(p, pb_findings_add(
                            &out->findings, "ptr", "ptr-multiple", PB_SEV_WARN,
                            "%s has %zu PTR records: receivers may check any "
                            "one of them%s",
                            p->text, p->nnames,
                            p->nnames > PTR_AUDIT_MAX_NAMES
                                ? ", and only the first 10 were looked up"
                                : ""));
        pb_finding_remedy(fd,
                          "keep one PTR for %s, naming the host that sends "
                          "from it",
                          p->text);
        ev_ip(fd, p, a, NULL);
    }
    return true;
}

/* The forward answers: is a name confirmed? */
static void
audit_forward(struct ptr_audit *out, struct ptr_ip *p,
              const struct dns_answer *ptr, const struct dns_answer *const *fwd)
{
    struct pb_finding *fd;
    char mail[300];
    size_t i, k, nerror = 0, nchecked = 0;
    const char *first = NULL;

    for (i = 0; i < p->nnames; i++) {
        struct ptr_name *nm = &p->names[i];
        const struct dns_answer *a = fwd[i];
        struct ipaddr ip;

        if (a == NULL)
            continue;
        nchecked++;
        if (first == NULL)
            first = nm->name;
        nm->forward_status = a->status;
        snprintf(nm->lookup, sizeof(nm->lookup), "%s", dns_status_name(a));
        if (dns_answer_is_error(a))
            nerror++;
        for (k = 0; a->status == DNS_OK && k < a->nrr; k++) {
            if (a->rr[k].type != a->qtype || !hosts_rr_ip(&a->rr[k], &ip))
                continue;
            nm->addrs =
                pb_xreallocarray(nm->addrs, nm->naddrs + 1, sizeof(*nm->addrs));
            nm->addrs[nm->naddrs++] = ip;
            if (ip.family == p->ip.family &&
                memcmp(ip.a, p->ip.a, ip.family == 4 ? 4 : 16) == 0)
                nm->is_confirmed = true;
        }
        p->is_confirmed = p->is_confirmed || nm->is_confirmed;
    }
    if (p->is_confirmed)
        return;
    if (nerror > 0) {
        fd = ip_mark(p, pb_findings_add(&out->findings, "ptr", "ptr-dns-error",
                                        PB_SEV_ERROR,
                                        "could not confirm the PTR of %s: the "
                                        "forward lookup of its name failed",
                                        p->text));
        pb_finding_remedy(fd, "check that the name servers of the PTR name "
                              "answer, then run the check again");
        ev_ip(fd, p, ptr, fwd);
        return;
    }
    if (nchecked == 0)
        fd = pb_findings_add(&out->findings, "ptr", "ptr-not-confirmed",
                             PB_SEV_FAIL,
                             "no PTR name of %s is a valid host name, so none "
                             "resolves back to it (no forward-confirmed "
                             "reverse DNS): receivers treat that like a "
                             "missing PTR",
                             p->text);
    else if (nchecked == 1)
        fd = pb_findings_add(&out->findings, "ptr", "ptr-not-confirmed",
                             PB_SEV_FAIL,
                             "the PTR name %s of %s does not resolve back to "
                             "it (no forward-confirmed reverse DNS): "
                             "receivers treat that like a missing PTR",
                             first, p->text);
    else
        fd = pb_findings_add(&out->findings, "ptr", "ptr-not-confirmed",
                             PB_SEV_FAIL,
                             "none of the %zu PTR names of %s resolves back "
                             "to it (no forward-confirmed reverse DNS): "
                             "receivers treat that like a missing PTR",
                             nchecked, p->text);
    ip_mark(p, fd);
    if (first != NULL && out->domain != NULL &&
        hosts_name_within(first, out->domain))
        pb_finding_remedy(fd,
                          "publish a PTR for %s that resolves back: add the "
                          "%s record %s -> %s",
                          p->text, p->ip.family == 4 ? "A" : "AAAA", first,
                          p->text);
    else
        pb_finding_remedy(fd,
                          "publish a PTR for %s that resolves back: ask your "
                          "ISP or hosting provider to set it to a name such "
                          "as %s, and publish %s %s -> %s",
                          p->text, suggested(out, mail, sizeof(mail)),
                          p->ip.family == 4 ? "A" : "AAAA",
                          suggested(out, mail, sizeof(mail)), p->text);
    ev_ip(fd, p, ptr, fwd);
}

static void
audit_domain(struct ptr_audit *out, struct ptr_ip *p)
{
    struct pb_finding *fd;

    if (out->domain == NULL || out->domain[0] == '\0' || p->nnames == 0 ||
        p->is_in_domain)
        return;
    fd = pb_findings_add(
        &out->findings, "ptr", "ptr-outside-domain", PB_SEV_INFO,
        "the PTR name %s of %s is not within %s: fine for a "
        "shared or hosted relay, but a name in your own "
        "domain ties the address to it",
        p->names[0].name[0] ? p->names[0].name : ".", p->text, out->domain);
    ip_mark(p, fd);
}

void
ptr_audit_run(struct dns_resolver *r, const char *domain,
              const struct ipaddr *ips, size_t nips, struct ptr_audit *out)
{
    struct dns_question *q;
    const struct dns_answer **ptr, **fwd, **ans;
    size_t i, k, n, m, nq, *slot;

    memset(out, 0, sizeof(*out));
    pb_findings_init(&out->findings);
    if (domain != NULL) {
        out->domain = pb_xstrdup(domain);
        for (i = 0; out->domain[i] != '\0'; i++)
            if (out->domain[i] >= 'A' && out->domain[i] <= 'Z')
                out->domain[i] = (char)(out->domain[i] - 'A' + 'a');
        n = strlen(out->domain);
        if (n > 1 && out->domain[n - 1] == '.')
            out->domain[n - 1] = '\0';
    }
    if (nips == 0)
        goto out;
    out->nips = nips;
    out->ips = pb_xcalloc(nips, sizeof(*out->ips));
    q = pb_xreallocarray(NULL, nips, sizeof(*q));
    ptr = pb_xreallocarray(NULL, nips, sizeof(*ptr));
    for (i = 0; i < nips; i++) {
        struct ptr_ip *p = &out->ips[i];

        p->ip = ips[i];
        ipaddr_unmap(&p->ip);
        ipaddr_format(&p->ip, p->text, sizeof(p->text));
        ipaddr_reverse(&p->ip, p->reverse, sizeof(p->reverse));
        q[i].name = p->reverse;
        q[i].type = DNS_TYPE_PTR;
    }
    /* Every IP's PTR at once, then every name's address at once. */
    dns_query_many(r, q, nips, ptr);
    for (i = 0, nq = 0; i < nips; i++) {
        parse_names(out, &out->ips[i], ptr[i]);
        nq += out->ips[i].nnames;
    }
    /* fwd[j] answers the j-th name of all IPs; NULL when not looked up */
    fwd = pb_xcalloc(nq > 0 ? nq : 1, sizeof(*fwd));
    ans = pb_xcalloc(nq > 0 ? nq : 1, sizeof(*ans));
    slot = pb_xcalloc(nq > 0 ? nq : 1, sizeof(*slot));
    q = pb_xreallocarray(q, nq > 0 ? nq : 1, sizeof(*q));
    for (i = 0, n = 0, m = 0; i < nips; i++) {
        for (k = 0; k < out->ips[i].nnames; k++, n++) {
            const struct ptr_name *nm = &out->ips[i].names[k];

            if (!nm->is_checked)
                continue;
            q[m].name = nm->name;
            q[m].type = out->ips[i].ip.family == 4 ? DNS_TYPE_A : DNS_TYPE_AAAA;
            slot[m++] = n;
        }
    }
    dns_query_many(r, q, m, ans);
    for (i = 0; i < m; i++)
        fwd[slot[i]] = ans[i];
    for (i = 0, n = 0; i < nips; i++) {
        struct ptr_ip *p = &out->ips[i];

        /* findings grouped by IP, in the order the IPs were given */
        if (audit_ptr(out, p, ptr[i]))
            audit_forward(out, p, ptr[i], fwd + n);
        audit_domain(out, p);
        n += p->nnames;
    }
    free(slot);
    free(ans);
    free(fwd);
    free(ptr);
    free(q);
out:
    out->status = pb_findings_status(&out->findings);
}

void
ptr_audit_release(struct ptr_audit *a)
{
    size_t i, k;

    if (a == NULL)
        return;
    for (i = 0; i < a->nips; i++) {
        for (k = 0; k < a->ips[i].nnames; k++) {
            free(a->ips[i].names[k].name);
            free(a->ips[i].names[k].addrs);
        }
        free(a->ips[i].names);
    }
    free(a->ips);
    free(a->domain);
    pb_findings_release(&a->findings);
    memset(a, 0, sizeof(*a));
}
