/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the DKIM key record parser and the key inspection
 * behind it (base64, DER through OpenSSL, raw ed25519) on arbitrary bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dkim_record rec;
    enum dkim_key_form form;
    unsigned bits;
    char why[256];
    char buf[8192];

    /* as published */
    (void)dkim_record_looks_like((const char *)data, size);
    if (dkim_record_parse((const char *)data, size, &rec, why, sizeof(why)) ==
        0)
        dkim_record_release(&rec);
    /* the bytes as a decoded key of each type: reaches OpenSSL directly */
    (void)dkim_key_inspect(DKIM_KEY_RSA, data, size, &form, &bits, why,
                           sizeof(why));
    (void)dkim_key_inspect(DKIM_KEY_ED25519, data, size, &form, &bits, why,
                           sizeof(why));
    /* behind a valid prefix, to reach p= decoding and the later tags */
    if (size > sizeof(buf) - 20)
        return 0;
    memcpy(buf, "v=DKIM1; k=rsa; p=", 18);
    memcpy(buf + 18, data, size);
    if (dkim_record_parse(buf, size + 18, &rec, why, sizeof(why)) == 0)
        dkim_record_release(&rec);
    return 0;
}
