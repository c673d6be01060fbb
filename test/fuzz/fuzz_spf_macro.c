/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: SPF macro check, expansion and target names. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_limits.h"
#include "spf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spf_macro_ctx m;
    struct pb_buf b;
    const char *why;
    char *spec, *out = NULL;

    memset(&m, 0, sizeof(m));
    m.sender = "local.part-x@sub.example.com";
    m.local = "local.part-x";
    m.sender_domain = "sub.example.com";
    m.domain = "example.com";
    m.helo = "helo.example.org";
    ipaddr_parse(size % 2 ? "2001:db8::1" : "192.0.2.1", &m.ip);

    pb_buf_init(&b, PB_LIMIT_SPF_EXPANSION);
    (void)spf_macro_expand(NULL, (const char *)data, size, size % 3 == 0, NULL,
                           &why);
    (void)spf_macro_expand(&m, (const char *)data, size, size % 3 == 0, &b,
                           &why);
    pb_buf_release(&b);
    (void)spf_macro_domain_end_ok((const char *)data, size);

    spec = malloc(size + 1);
    memcpy(spec, data, size);
    spec[size] = '\0';
    if (spf_macro_domain(&m, spec, &out, &why) == 0)
        free(out);
    free(spec);
    return 0;
}
