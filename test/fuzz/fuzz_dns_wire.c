/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for analyze/dns_wire.c: any bytes as a DNS response.
 * It asks the question the message itself carries, so inputs get past the
 * question check into the answer section, and checks the answer's
 * invariants.  Seeds: test/data/dns/wire/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "dns_int.h"
#include "pb_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct dns_answer *a)
{
    size_t i, k, sum;

    if (a->nrr > PB_LIMIT_DNS_RRS)
        abort();
    if (a->nrr > 0 && a->status != DNS_OK && a->status != DNS_NXDOMAIN)
        abort();
    for (i = 0; i < a->nrr; i++) {
        const struct dns_rr *rr = &a->rr[i];

        if (rr->owner == NULL || strlen(rr->owner) >= DNS_NAME_TEXT_MAX)
            abort();
        if (rr->type != a->qtype && rr->type != DNS_TYPE_CNAME)
            abort();
        if (rr->type == DNS_TYPE_TXT || rr->type == DNS_TYPE_SPF) {
            for (k = 0, sum = 0; k < rr->nstr; k++)
                sum += rr->strlens[k];
            if (sum != rr->len || rr->data[rr->len] != 0)
                abort();
        } else if (dns_type_has_name(rr->type)) {
            if (rr->data == NULL || strlen(rr->data) != rr->len)
                abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char qname[DNS_NAME_TEXT_MAX] = "example.com";
    struct dns_answer a;
    const char *why;
    size_t off = 12;
    uint16_t qtype = DNS_TYPE_TXT;

    if (size > 12 && dns_wire_name_read(data, size, &off, qname, &why) == 0 &&
        off + 2 <= size)
        qtype = (uint16_t)(data[off] << 8 | data[off + 1]);
    dns_answer_init(&a, qname, qtype);
    dns_wire_parse(data, size, &a);
    check(&a);
    /* Parsing again into a used answer must not leak or keep old records. */
    dns_wire_parse(data, size, &a);
    check(&a);
    dns_answer_release(&a);
    return 0;
}
