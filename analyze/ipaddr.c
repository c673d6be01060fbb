/* SPDX-License-Identifier: MIT */
/*
 * IPv4 and IPv6 addresses: parsing, prefix matching, canonical text
 * (RFC 5952) and reverse-lookup names (RFC 1035 §3.5, RFC 3596 §2.5).
 * IPv4-mapped IPv6 (RFC 4291 §2.5.5.2) can be folded to IPv4.
 */
#include "analyze.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                           0, 0, 0, 0, 0xff, 0xff};

int
ipaddr_parse(const char *s, struct ipaddr *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (s == NULL)
        return -1;
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, ip->a) == 1) {
        ip->family = 6;
        return 0;
    }
    return -1;
}

void
ipaddr_unmap(struct ipaddr *ip)
{
    if (ip->family != 6 || memcmp(ip->a, v4mapped, sizeof(v4mapped)) != 0)
        return;
    memmove(ip->a, ip->a + 12, 4);
    memset(ip->a + 4, 0, 12);
    ip->family = 4;
}

bool
ipaddr_in(const struct ipaddr *ip, const struct ipaddr *net, unsigned prefix)
{
    unsigned bits = ip->family == 4 ? 32 : 128;
    unsigned full, rest;
    unsigned char mask;

    if (ip->family != net->family || prefix > bits)
        return false;
    full = prefix / 8;
    rest = prefix % 8;
    if (memcmp(ip->a, net->a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    mask = (unsigned char)(0xff << (8 - rest));
    return (ip->a[full] & mask) == (net->a[full] & mask);
}

void
ipaddr_format(const struct ipaddr *ip, char *buf, size_t size)
{
    if (size == 0)
        return;
    if (inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->a, buf,
                  (socklen_t)size) == NULL)
        buf[0] = '\0';
}

void
ipaddr_reverse(const struct ipaddr *ip, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[IPADDR_REVERSE_MAX];
    size_t n = 0;
    int i;

    if (ip->family == 4) {
        snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u.in-addr.arpa", ip->a[3],
                 ip->a[2], ip->a[1], ip->a[0]);
    } else {
        for (i = 15; i >= 0; i--) {
            tmp[n++] = hex[ip->a[i] & 15];
            tmp[n++] = '.';
            tmp[n++] = hex[ip->a[i] >> 4];
            tmp[n++] = '.';
        }
        memcpy(tmp + n, "ip6.arpa", sizeof("ip6.arpa"));
    }
    snprintf(buf, size, "%s", tmp);
}
