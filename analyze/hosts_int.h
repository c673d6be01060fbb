/* SPDX-License-Identifier: MIT */
/*
 * Private helpers of the host checks of `probe check` (mx.c, ptr.c,
 * dnsbl.c): evidence built from DNS answers as received, addresses out of
 * records, and the shape tests of host names.
 */
#ifndef PB_ANALYZE_HOSTS_INT_H
#define PB_ANALYZE_HOSTS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "analyze.h"
#include "pb_buf.h"

/*
 * Evidence under construction: outside bytes kept raw (the report escapes
 * them), at most PB_FINDING_EVIDENCE_MAX; what does not fit is cut and the
 * cut is said ("[...]") when the evidence is attached.
 */
struct hosts_ev {
    struct pb_buf b;
    bool is_cut;
};

void hosts_ev_init(struct hosts_ev *ev);
void hosts_ev_release(struct hosts_ev *ev);
/* Append (p, len), outside bytes as they are. */
void hosts_ev_add(struct hosts_ev *ev, const void *p, size_t len);
/* Append our own text; outside text only through "%s". */
void hosts_ev_addf(struct hosts_ev *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Append one answer as received, "; " before it unless ev is empty:
 *   "MX example.com: NOERROR: 10 mx1.example.com, 20 ."
 *   "A mx.example.com: NXDOMAIN"
 *   "A alias.example.com: NOERROR: CNAME mx.example.com, 192.0.2.1"
 *   "TXT x: TIMEOUT (no answer ...)"
 * At most max_rrs records are written, then ", ... (N records)".
 */
void hosts_ev_answer(struct hosts_ev *ev, const struct dns_answer *a,
                     size_t max_rrs);
/* Attach ev to fd as its evidence (nothing when empty) and release ev. */
void hosts_ev_attach(struct hosts_ev *ev, struct pb_finding *fd);

/* The address in an A or AAAA record; false for other types. */
bool hosts_rr_ip(const struct dns_rr *rr, struct ipaddr *ip);

/*
 * True when name (a name from record data, as analyze.h writes names)
 * can be looked up: dns_name_check() accepts it and every byte is a
 * letter, digit, '-', '_' or '.'.  Host names are LDH (RFC 1123 §2.1,
 * RFC 5321 §2.3.5); '_' is tolerated because resolvers and MTAs accept
 * it.
 */
bool hosts_name_is_host(const char *name);
/* True when name is an address literal: "192.0.2.1", "[192.0.2.1]", "::1". */
bool hosts_name_is_ip_literal(const char *name);
/*
 * True when ip can never be reached from the Internet: 0.0.0.0/8,
 * 10/8, 127/8, 169.254/16, 172.16/12, 192.168/16, 100.64/10 (RFC 6598),
 * 224/4 and up; ::, ::1, fc00::/7, fe80::/10, ff00::/8.
 */
bool hosts_ip_is_internal(const struct ipaddr *ip);
/* True when name is domain or lies under it (ASCII case-insensitive). */
bool hosts_name_within(const char *name, const char *domain);

#endif
