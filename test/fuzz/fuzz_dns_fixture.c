/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for analyze/dns_fixture.c: any bytes as a fixture.
 * What loads is asked every supported type of a few names; the answers
 * are recorded, the recording loaded, and the same questions must get the
 * same answers.  Seeds: the .json files of test/data/dns/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "dns_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NNAMES 5
#define NTYPES 8

static void
same(const struct dns_answer *x, const struct dns_answer *y)
{
    size_t i;

    if (x->status != y->status || x->rcode != y->rcode || x->nrr != y->nrr)
        abort();
    if (x->status != DNS_TIMEOUT && strcmp(x->detail, y->detail) != 0)
        abort();
    for (i = 0; i < x->nrr; i++) {
        const struct dns_rr *p = &x->rr[i], *q = &y->rr[i];

        if (p->type != q->type || p->pref != q->pref || p->len != q->len ||
            p->nstr != q->nstr || strcmp(p->owner, q->owner) != 0 ||
            memcmp(p->addr, q->addr, sizeof(p->addr)) != 0 ||
            (p->len > 0 && memcmp(p->data, q->data, p->len) != 0) ||
            (p->nstr > 0 &&
             memcmp(p->strlens, q->strlens, p->nstr * sizeof(size_t)) != 0))
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[NNAMES] = {"example.com", "a", "x.test",
                                              "alias.example.com", "b.a"};
    static const uint16_t types[NTYPES] = {
        DNS_TYPE_A,  DNS_TYPE_AAAA, DNS_TYPE_CNAME, DNS_TYPE_MX,
        DNS_TYPE_NS, DNS_TYPE_PTR,  DNS_TYPE_SPF,   DNS_TYPE_TXT,
    };
    struct dns_answer a[NNAMES * NTYPES], b;
    const struct dns_answer *p[NNAMES * NTYPES];
    struct dns_fixture *fx, *again;
    struct pb_err err;
    char path[64];
    size_t i;

    if (dns_fixture_load_mem("fuzz.json", data, size, &fx, &err) == -1)
        return 0;
    for (i = 0; i < NNAMES * NTYPES; i++) {
        dns_answer_init(&a[i], names[i / NTYPES], types[i % NTYPES]);
        dns_fixture_answer(fx, &a[i]);
        p[i] = &a[i];
    }
    snprintf(path, sizeof(path), "/tmp/fuzz_dns_fixture.%ld.json",
             (long)getpid());
    if (dns_fixture_record(p, NNAMES * NTYPES, path, &err) == -1 ||
        dns_fixture_load(path, &again, &err) == -1)
        abort();
    for (i = 0; i < NNAMES * NTYPES; i++) {
        dns_answer_init(&b, a[i].qname, a[i].qtype);
        dns_fixture_answer(again, &b);
        same(&a[i], &b);
        dns_answer_release(&b);
        dns_answer_release(&a[i]);
    }
    unlink(path);
    dns_fixture_free(again);
    dns_fixture_free(fx);
    return 0;
}
