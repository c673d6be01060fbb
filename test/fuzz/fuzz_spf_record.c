/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the SPF record parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spf_record rec;
    char why[256];
    char buf[8192];

    /* as published, and behind a valid version tag to reach the terms */
    if (spf_record_parse((const char *)data, size, &rec, why, sizeof(why)) == 0)
        spf_record_release(&rec);
    if (size > sizeof(buf) - 7)
        return 0;
    memcpy(buf, "v=spf1 ", 7);
    memcpy(buf + 7, data, size);
    if (spf_record_parse(buf, size + 7, &rec, why, sizeof(why)) == 0)
        spf_record_release(&rec);
    return 0;
}
