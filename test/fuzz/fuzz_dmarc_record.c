/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the DMARC record parser on arbitrary bytes, as
 * published and behind a valid version tag to reach the tags, and the
 * tree walk's name list on the bytes as a name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
parse(const char *p, size_t len)
{
    struct dmarc_record rec;
    struct pb_findings f;
    struct pb_err err;
    size_t i;

    pb_findings_init(&f);
    if (dmarc_record_parse(p, len, &rec, &f, &err) == 0) {
        /* touch what the audit and the report read */
        for (i = 0; i < rec.nrua; i++)
            if (rec.rua[i].is_valid && strlen(rec.rua[i].domain) == 0)
                abort();
        for (i = 0; i < rec.ntags; i++)
            if (rec.tags[i].name[0] == '\0')
                abort();
        if (f.n > 33)
            abort();
        dmarc_record_release(&rec);
    }
    pb_findings_release(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char head[] = "v=DMARC1; ";
    const char *t[DMARC_TREE_WALK_MAX];
    char *buf;

    parse((const char *)data, size);
    buf = malloc(size + sizeof(head));
    memcpy(buf, head, sizeof(head) - 1);
    memcpy(buf + sizeof(head) - 1, data, size);
    parse(buf, size + sizeof(head) - 1);
    /* the same bytes as a name (up to a NUL) */
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (dmarc_tree_walk_targets(buf, t) > DMARC_TREE_WALK_MAX)
        abort();
    free(buf);
    return 0;
}
