/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the shape tests the MX and PTR checks apply to names
 * from DNS answers (generic PTR names, host names, address literals, "within
 * the domain"), and the block list zone spec parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "hosts_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipaddr ip;
    struct dnsbl_zone z;
    char why[96], *name;

    /* the first 17 bytes pick the address, the rest is the name */
    memset(&ip, 0, sizeof(ip));
    if (size >= 17) {
        ip.family = data[0] & 1 ? 6 : 4;
        memcpy(ip.a, data + 1, ip.family == 4 ? 4 : 16);
        data += 17;
        size -= 17;
    } else {
        ipaddr_parse("192.0.2.5", &ip);
    }
    name = malloc(size + 1);
    memcpy(name, data, size);
    name[size] = '\0';
    (void)ptr_name_is_generic(name, &ip, why, sizeof(why));
    (void)ptr_name_is_generic(name, &ip, why, size % sizeof(why));
    (void)hosts_name_is_host(name);
    (void)hosts_name_is_ip_literal(name);
    (void)hosts_name_within(name, "example.com");
    (void)hosts_name_within("mail.example.com", name);
    (void)dnsbl_zone_parse(name, &z, NULL);
    free(name);
    return 0;
}
