/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "analyze.h"

Test(ipaddr, parses_v4_and_v6)
{
    struct ipaddr ip;

    cr_assert_eq(ipaddr_parse("192.0.2.1", &ip), 0);
    cr_assert_eq(ip.family, 4);
    cr_assert_eq(ip.a[3], 1);
    cr_assert_eq(ipaddr_parse("2001:db8::1", &ip), 0);
    cr_assert_eq(ip.family, 6);
    cr_assert_eq(ip.a[15], 1);
}

Test(ipaddr, rejects_garbage)
{
    struct ipaddr ip;
    const char *bad[] = {"",           "1.2.3",   "1.2.3.4.5", "256.1.1.1",
                         "1.2.3.4/32", "[::1]",   "::1%eth0",  "example.com",
                         " 1.2.3.4",   "1.2.3.4 "};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(ipaddr_parse(bad[i], &ip), -1, "accepted '%s'", bad[i]);
    cr_assert_eq(ipaddr_parse(NULL, &ip), -1);
}

Test(ipaddr, unmaps_v4_mapped_only)
{
    struct ipaddr ip;
    char buf[64];

    cr_assert_eq(ipaddr_parse("::ffff:192.0.2.7", &ip), 0);
    ipaddr_unmap(&ip);
    cr_assert_eq(ip.family, 4);
    ipaddr_format(&ip, buf, sizeof(buf));
    cr_assert_str_eq(buf, "192.0.2.7");
    cr_assert_eq(ipaddr_parse("::192.0.2.7", &ip), 0);
    ipaddr_unmap(&ip);
    cr_assert_eq(ip.family, 6);
}

Test(ipaddr, prefix_matching_at_every_boundary)
{
    struct ipaddr ip, net;

    ipaddr_parse("192.0.2.129", &ip);
    ipaddr_parse("192.0.2.128", &net);
    cr_assert(ipaddr_in(&ip, &net, 25));
    cr_assert(ipaddr_in(&ip, &net, 31));
    cr_assert_not(ipaddr_in(&ip, &net, 32));
    cr_assert(ipaddr_in(&ip, &net, 0));
    cr_assert_not(ipaddr_in(&ip, &net, 33));
    ipaddr_parse("2001:db8::1", &net);
    cr_assert_not(ipaddr_in(&ip, &net, 0), "families never match");
    ipaddr_parse("2001:db8:ffff::1", &ip);
    cr_assert(ipaddr_in(&ip, &net, 32));
    cr_assert_not(ipaddr_in(&ip, &net, 33));
    cr_assert_not(ipaddr_in(&ip, &net, 129));
}

Test(ipaddr, formats_rfc5952_and_reverse_names)
{
    struct ipaddr ip;
    char buf[IPADDR_REVERSE_MAX];

    ipaddr_parse("2001:0db8:0000:0000:0000:0000:0000:0001", &ip);
    ipaddr_format(&ip, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2001:db8::1");
    ipaddr_reverse(&ip, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                          "8.b.d.0.1.0.0.2.ip6.arpa");
    ipaddr_parse("192.0.2.1", &ip);
    ipaddr_reverse(&ip, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1.2.0.192.in-addr.arpa");
}
