/* SPDX-License-Identifier: MIT */
/*
 * `probe check` for one domain: the first questions of every check go out
 * together, then each check runs against the warm cache.
 */
#include "check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "pb_limits.h"
#include "pb_xalloc.h"

const struct check_name check_names[6] = {
    {"spf", CHECK_SPF}, {"dkim", CHECK_DKIM}, {"dmarc", CHECK_DMARC},
    {"mx", CHECK_MX},   {"ptr", CHECK_PTR},   {"dnsbl", CHECK_DNSBL},
};

int
check_kinds_parse(const char *list, unsigned *mask, const char **bad,
                  size_t *badlen)
{
    const char *p = list;

    *mask = 0;
    for (;;) {
        size_t n = strcspn(p, ","), i;

        for (i = 0; i < 6; i++) {
            if (strlen(check_names[i].name) == n &&
                strncmp(check_names[i].name, p, n) == 0) {
                *mask |= check_names[i].kind;
                break;
            }
        }
        if (i == 6 || n == 0) {
            *bad = p;
            *badlen = n;
            return -1;
        }
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

/* RFC 1123 §2.1 host names, the form mail domains take. */
static int
host_name_check(const char *s, char *why, size_t whysize)
{
    size_t len = strlen(s), label = 0, labels = 1, i;

    if (len == 0) {
        snprintf(why, whysize, "empty domain");
        return -1;
    }
    if (len > PB_LIMIT_DNS_NAME) {
        snprintf(why, whysize,
                 "domain is %zu octets long; at most %d are "
                 "allowed",
                 len, PB_LIMIT_DNS_NAME);
        return -1;
    }
    for (i = 0; i <= len; i++) {
        char c = s[i];

        if (i == len || c == '.') {
            if (label == 0) {
                snprintf(why, whysize, "empty label in '%s'", s);
                return -1;
            }
            if (label > PB_LIMIT_DNS_LABEL) {
                snprintf(why, whysize,
                         "a label of '%.80s' is %zu octets "
                         "long; at most 63 are allowed",
                         s, label);
                return -1;
            }
            if (s[i - 1] == '-' || s[i - label] == '-') {
                snprintf(why, whysize,
                         "a label of '%s' starts or ends "
                         "with a hyphen",
                         s);
                return -1;
            }
            if (i < len)
                labels++;
            label = 0;
            continue;
        }
        /* '_' is allowed: audited names like _spf.example.com carry it */
        if (!isalnum((unsigned char)c) && c != '-' && c != '_') {
            snprintf(why, whysize,
                     "'%s' has a character that no domain "
                     "name may hold (byte 0x%02x)",
                     s, (unsigned char)c);
            return -1;
        }
        label++;
    }
    if (labels < 2) {
        snprintf(why, whysize, "'%s' is not a fully qualified domain name", s);
        return -1;
    }
    return 0;
}

int
check_domain_normalize(const char *in, char **out, char **unicode, char *why,
                       size_t whysize)
{
    size_t len = strlen(in), i;
    bool ascii = true;
    char *copy, *ascii_name = NULL;
    int rc;

    *out = NULL;
    *unicode = NULL;
    if (len > 1024) {
        snprintf(why, whysize, "domain is %zu bytes long", len);
        return -1;
    }
    copy = pb_xstrdup(in);
    if (len > 1 && copy[len - 1] == '.')
        copy[--len] = '\0'; /* a fully qualified trailing dot */
    for (i = 0; i < len; i++)
        if ((unsigned char)copy[i] >= 0x80)
            ascii = false;
    if (!ascii) {
        /* IDNA2008 (RFC 5891), as browsers and mail systems convert */
        rc = idn2_lookup_u8((const uint8_t *)copy, (uint8_t **)&ascii_name,
                            IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
        if (rc != IDN2_OK) {
            snprintf(why, whysize,
                     "'%.200s' is not a valid international "
                     "domain name: %s",
                     copy, idn2_strerror(rc));
            free(copy);
            return -1;
        }
        *unicode = copy;
        copy = pb_xstrdup(ascii_name);
        idn2_free(ascii_name);
    }
    for (i = 0; copy[i]; i++)
        copy[i] = (char)tolower((unsigned char)copy[i]);
    if (host_name_check(copy, why, whysize) == -1) {
        free(copy);
        free(*unicode);
        *unicode = NULL;
        return -1;
    }
    *out = copy;
    return 0;
}

/* Send the first question of each check at once: they are independent. */
static void
prefetch(struct dns_resolver *r, const struct check_request *req)
{
    struct dns_question q[4 + PB_LIMIT_CHECK_IPS];
    const struct dns_answer *out[4 + PB_LIMIT_CHECK_IPS];
    char dmarc[PB_LIMIT_DNS_NAME + 16];
    char rev[PB_LIMIT_CHECK_IPS][IPADDR_REVERSE_MAX];
    size_t n = 0, i;

    if (req->checks & CHECK_SPF)
        q[n++] = (struct dns_question){req->domain, DNS_TYPE_TXT};
    if (req->checks & CHECK_DMARC) {
        snprintf(dmarc, sizeof(dmarc), "_dmarc.%s", req->domain);
        q[n++] = (struct dns_question){dmarc, DNS_TYPE_TXT};
    }
    if (req->checks & CHECK_MX)
        q[n++] = (struct dns_question){req->domain, DNS_TYPE_MX};
    for (i = 0;
         (req->checks & CHECK_PTR) && i < req->nips && i < PB_LIMIT_CHECK_IPS;
         i++) {
        ipaddr_reverse(&req->ips[i], rev[i], sizeof(rev[i]));
        q[n++] = (struct dns_question){rev[i], DNS_TYPE_PTR};
    }
    dns_query_many(r, q, n, out);
}

void
check_run(struct dns_resolver *r, const struct check_request *req,
          struct check_result *out)
{
    memset(out, 0, sizeof(*out));
    out->domain = pb_xstrdup(req->domain);
    prefetch(r, req);
    if (req->checks & CHECK_SPF) {
        spf_audit_run(r, req->domain, req->ips, req->nips, &out->spf);
        out->status = pb_status_worst(out->status, out->spf.status);
    }
    if (req->checks & CHECK_DKIM) {
        dkim_audit_run(r, req->domain, req->selectors, req->nselectors,
                       &out->dkim);
        out->status = pb_status_worst(out->status, out->dkim.status);
    }
    if (req->checks & CHECK_DMARC) {
        dmarc_audit_run(r, req->domain, &out->dmarc);
        out->status = pb_status_worst(out->status, out->dmarc.status);
    }
    if (req->checks & CHECK_MX) {
        mx_audit_run(r, req->domain, &out->mx);
        out->status = pb_status_worst(out->status, out->mx.status);
    }
    if ((req->checks & CHECK_PTR) && req->nips > 0) {
        ptr_audit_run(r, req->domain, req->ips, req->nips, &out->ptr);
        out->status = pb_status_worst(out->status, out->ptr.status);
        out->ran |= CHECK_PTR;
    }
    if (req->checks & CHECK_DNSBL) {
        dnsbl_audit_run(r, req->domain, req->ips, req->nips, req->zones,
                        req->nzones, &out->dnsbl);
        out->status = pb_status_worst(out->status, out->dnsbl.status);
    }
    out->ran |= req->checks & ~(unsigned)CHECK_PTR;
}

void
check_result_release(struct check_result *res)
{
    if (res == NULL)
        return;
    if (res->ran & CHECK_SPF)
        spf_audit_release(&res->spf);
    if (res->ran & CHECK_DKIM)
        dkim_audit_release(&res->dkim);
    if (res->ran & CHECK_DMARC)
        dmarc_audit_release(&res->dmarc);
    if (res->ran & CHECK_MX)
        mx_audit_release(&res->mx);
    if (res->ran & CHECK_PTR)
        ptr_audit_release(&res->ptr);
    if (res->ran & CHECK_DNSBL)
        dnsbl_audit_release(&res->dnsbl);
    free(res->domain);
    free(res->domain_unicode);
    memset(res, 0, sizeof(*res));
}
