/* SPDX-License-Identifier: MIT */
/*
 * `probe check` for one domain: runs the checks asked for (SPF, DKIM,
 * DMARC, MX, PTR, DNSBL) against one resolver and keeps their results.
 */
#ifndef PB_PROBE_CHECK_H
#define PB_PROBE_CHECK_H

#include "analyze.h"

enum check_kind {
    CHECK_SPF = 1u << 0,
    CHECK_DKIM = 1u << 1,
    CHECK_DMARC = 1u << 2,
    CHECK_MX = 1u << 3,
    CHECK_PTR = 1u << 4,
    CHECK_DNSBL = 1u << 5,
    CHECK_ALL = (1u << 6) - 1,
};

/* Names in report order: "spf", "dkim", "dmarc", "mx", "ptr", "dnsbl". */
extern const struct check_name {
    const char *name;
    enum check_kind kind;
} check_names[6];

/*
 * Parse "spf,dmarc" into a mask; -1 with the unknown name in *bad (a
 * pointer into list, length *badlen).
 */
int check_kinds_parse(const char *list, unsigned *mask, const char **bad,
                      size_t *badlen);

struct check_request {
    const char *domain; /* A-label form, checked, no trailing dot */
    const struct ipaddr *ips;
    size_t nips;
    const char *const *selectors; /* none: DKIM selector discovery */
    size_t nselectors;
    const struct dnsbl_zone *zones;
    size_t nzones;
    unsigned checks; /* enum check_kind mask */
};

struct check_result {
    char *domain;
    char *domain_unicode; /* the name as the user wrote it, if IDN */
    enum pb_status status;
    unsigned ran; /* enum check_kind mask of the checks run */
    struct spf_audit spf;
    struct dkim_audit dkim;
    struct dmarc_audit dmarc;
    struct mx_audit mx;
    struct ptr_audit ptr;
    struct dnsbl_audit dnsbl;
};

/*
 * Run the checks of req with resolver r into out (cleared on entry;
 * release with check_result_release).  DNS outcomes are findings; nothing
 * here fails.
 */
void check_run(struct dns_resolver *r, const struct check_request *req,
               struct check_result *out);
void check_result_release(struct check_result *res);

/*
 * Turn what the user typed into the domain to check: trailing dot
 * dropped, U-labels converted to A-labels (IDNA2008 through libidn2),
 * lower case, then checked as a host name (labels 1..63 octets of
 * letters, digits and hyphens, at least two labels, 253 octets in all).
 * Returns 0 with a malloc'd name in *out (and *unicode set when the input
 * was not ASCII), or -1 with the reason in why.
 */
int check_domain_normalize(const char *in, char **out, char **unicode,
                           char *why, size_t whysize);

#endif
