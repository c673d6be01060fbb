/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the MX, PTR and DNSBL checks (hosts_int.h): evidence
 * written from DNS answers as received, and the shape tests of host names
 * and addresses those checks apply.
 */
#include "hosts_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_finding.h"
#include "pb_xalloc.h"

/* Room for the " [...]" mark within PB_FINDING_EVIDENCE_MAX. */
#define HOSTS_EV_MAX (PB_FINDING_EVIDENCE_MAX - 8)

void
hosts_ev_init(struct hosts_ev *ev)
{
    pb_buf_init(&ev->b, HOSTS_EV_MAX);
    ev->is_cut = false;
}

void
hosts_ev_release(struct hosts_ev *ev)
{
    pb_buf_release(&ev->b);
    ev->is_cut = false;
}

void
hosts_ev_add(struct hosts_ev *ev, const void *p, size_t len)
{
    size_t room = ev->b.limit - ev->b.len;

    if (ev->is_cut)
        return;
    if (len > room) {
        /* keep what fits: the start of a long record is the evidence */
        len = room;
        ev->is_cut = true;
    }
    if (pb_buf_add(&ev->b, p, len) == -1)
        pb_panic("hosts: evidence buffer");
}

void
hosts_ev_addf(struct hosts_ev *ev, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* Our own text is short; a longer one (a long name) is cut and said. */
    if ((size_t)n < sizeof(buf)) {
        hosts_ev_add(ev, buf, (size_t)n);
    } else {
        hosts_ev_add(ev, buf, sizeof(buf) - 1);
        ev->is_cut = true;
    }
}

/* A name from record data: the root is "" and shown as ".". */
static void
ev_name(struct hosts_ev *ev, const char *name, size_t len)
{
    if (len == 0)
        hosts_ev_add(ev, ".", 1);
    else
        hosts_ev_add(ev, name, len);
}

static void
ev_rr(struct hosts_ev *ev, const struct dns_rr *rr)
{
    struct ipaddr ip;
    char text[64];

    if (hosts_rr_ip(rr, &ip)) {
        ipaddr_format(&ip, text, sizeof(text));
        hosts_ev_add(ev, text, strlen(text));
        return;
    }
    switch (rr->type) {
    case DNS_TYPE_MX:
        hosts_ev_addf(ev, "%u ", (unsigned)rr->pref);
        ev_name(ev, rr->data, rr->len);
        break;
    case DNS_TYPE_CNAME:
        hosts_ev_add(ev, "CNAME ", 6);
        ev_name(ev, rr->data, rr->len);
        break;
    case DNS_TYPE_TXT:
    case DNS_TYPE_SPF:
        hosts_ev_add(ev, "\"", 1);
        hosts_ev_add(ev, rr->data, rr->len);
        hosts_ev_add(ev, "\"", 1);
        break;
    default:
        ev_name(ev, rr->data, rr->len);
        break;
    }
}

void
hosts_ev_answer(struct hosts_ev *ev, const struct dns_answer *a, size_t max_rrs)
{
    size_t i;

    if (ev->b.len > 0)
        hosts_ev_add(ev, "; ", 2);
    hosts_ev_addf(ev, "%s ", dns_type_name(a->qtype));
    hosts_ev_add(ev, a->qname, strlen(a->qname));
    hosts_ev_addf(ev, ": %s", dns_status_name(a));
    if (a->detail[0] != '\0')
        hosts_ev_addf(ev, " (%s)", a->detail);
    for (i = 0; i < a->nrr && i < max_rrs; i++) {
        hosts_ev_add(ev, i == 0 ? ": " : ", ", 2);
        ev_rr(ev, &a->rr[i]);
    }
    if (i < a->nrr)
        hosts_ev_addf(ev, ", ... (%zu records)", a->nrr);
}

void
hosts_ev_attach(struct hosts_ev *ev, struct pb_finding *fd)
{
    static const char cut[] = " [...]";
    char *p;
    size_t len;

    if (ev->b.len > 0) {
        p = pb_buf_take(&ev->b, &len);
        if (ev->is_cut) {
            p = pb_xrealloc(p, len + sizeof(cut));
            memcpy(p + len, cut, sizeof(cut));
            len += sizeof(cut) - 1;
        }
        pb_finding_evidence(fd, p, len);
        free(p);
    }
    hosts_ev_release(ev);
}

bool
hosts_rr_ip(const struct dns_rr *rr, struct ipaddr *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (rr->type == DNS_TYPE_A) {
        ip->family = 4;
        memcpy(ip->a, rr->addr, 4);
        return true;
    }
    if (rr->type == DNS_TYPE_AAAA) {
        ip->family = 6;
        memcpy(ip->a, rr->addr, 16);
        return true;
    }
    return false;
}

bool
hosts_name_is_host(const char *name)
{
    const char *why;
    size_t i, len = strlen(name);

    if (dns_name_check(name, len, &why) == -1)
        return false;
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

bool
hosts_name_is_ip_literal(const char *name)
{
    char buf[64];
    struct ipaddr ip;
    size_t len = strlen(name);

    if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
        name++;
        len -= 2;
    }
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, name, len);
    buf[len] = '\0';
    /* RFC 5321 §4.1.3: "[IPv6:...]" */
    if (strncmp(buf, "ipv6:", 5) == 0)
        return ipaddr_parse(buf + 5, &ip) == 0;
    return ipaddr_parse(buf, &ip) == 0;
}

static bool
in4(const struct ipaddr *ip, unsigned a, unsigned b, unsigned prefix)
{
    struct ipaddr net = {.family = 4,
                         .a = {(unsigned char)a, (unsigned char)b}};

    return ipaddr_in(ip, &net, prefix);
}

bool
hosts_ip_is_internal(const struct ipaddr *ip)
{
    static const unsigned char zero[16], one[16] = {[15] = 1};

    if (ip->family == 4)
        return in4(ip, 0, 0, 8) || in4(ip, 10, 0, 8) || in4(ip, 127, 0, 8) ||
               in4(ip, 169, 254, 16) || in4(ip, 172, 16, 12) ||
               in4(ip, 192, 168, 16) || in4(ip, 100, 64, 10) || ip->a[0] >= 224;
    return memcmp(ip->a, zero, 16) == 0 || memcmp(ip->a, one, 16) == 0 ||
           (ip->a[0] & 0xfe) == 0xfc ||
           (ip->a[0] == 0xfe && (ip->a[1] & 0xc0) == 0x80) || ip->a[0] == 0xff;
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

bool
hosts_name_within(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain), i;

    if (d > 0 && domain[d - 1] == '.')
        d--;
    if (d == 0 || n < d)
        return false;
    if (n > d && name[n - d - 1] != '.')
        return false;
    for (i = 0; i < d; i++)
        if (lower((unsigned char)name[n - d + i]) !=
            lower((unsigned char)domain[i]))
            return false;
    return true;
}
