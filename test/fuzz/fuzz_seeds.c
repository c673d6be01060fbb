/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the seeds file parser and the --to list on arbitrary
 * bytes, and the envelope address check on the bytes as one address.
 * Checks what callers rely on: every seed's address passes the address
 * check, the mailbox fields are all set or all unset, and every error has
 * a printable sentence.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_addr.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_err(const struct pb_err *err)
{
    if (err->msg[0] == '\0' || !pb_is_printable(err->msg, strlen(err->msg)))
        abort();
    if (!pb_is_printable(err->evidence, strlen(err->evidence)))
        abort();
}

static void
check_seeds(const struct seeds *s)
{
    struct pb_err err;
    size_t i;

    if (s->n == 0 || s->n > PB_LIMIT_SEEDS || s->source == NULL)
        abort();
    for (i = 0; i < s->n; i++) {
        const struct seed *d = &s->v[i];

        if (pb_addr_check(d->address, strlen(d->address), &err) != 0)
            abort();
        if (d->imap_url == NULL) {
            if (d->imap_host || d->user || d->inbox || d->password_env ||
                d->password_file || d->connect_address || d->junk)
                abort();
            continue;
        }
        if (d->imap_host == NULL || d->user == NULL || d->inbox == NULL ||
            d->imap_port == 0 || d->imap_port > 65535 ||
            (d->password_env == NULL) == (d->password_file == NULL))
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seeds s;
    struct pb_err err;
    char *str;

    pb_err_clear(&err);
    if (seeds_parse((const char *)data, size, "fuzz", &s, &err) == 0) {
        check_seeds(&s);
        seeds_release(&s);
    } else {
        if (s.n != 0 || s.v != NULL)
            abort();
        check_err(&err);
    }

    pb_err_clear(&err);
    if (pb_addr_check((const char *)data, size, &err) != 0)
        check_err(&err);

    /* the same bytes as a --to argument (up to a NUL) */
    str = malloc(size + 1);
    memcpy(str, data, size);
    str[size] = '\0';
    pb_err_clear(&err);
    if (seeds_from_list(str, &s, &err) == 0) {
        check_seeds(&s);
        seeds_release(&s);
    } else {
        check_err(&err);
    }
    free(str);
    return 0;
}
