/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the Authentication-Results parser of
 * analyze/authres.c: the input as a field value, and behind
 * "Authentication-Results:" and "ARC-Authentication-Results: i=1;" as a
 * whole field (the three must agree on success and the number of
 * results).  Besides memory errors it checks what the parser promises:
 * limits hold, keywords are lower-case, statuses match their words, the
 * skipped notes are printable and lie inside the input, lookups find
 * every result, and a field trusts its own authserv-id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "pb_buf.h"
#include "pb_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A lower-case keyword: [a-z0-9_-], at least min bytes. */
static void
check_keyword(const char *s, size_t min)
{
    size_t i;

    if (s == NULL || strlen(s) < min)
        abort();
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            abort();
    }
}

static void
check(const struct authres *ar, size_t size)
{
    size_t i, j;

    if (ar->authserv_id != NULL && ar->authserv_id[0] == '\0')
        abort();
    if (ar->nresults > PB_LIMIT_AUTHRES_RESULTS ||
        ar->ncomments > PB_LIMIT_AUTHRES_COMMENTS)
        abort();
    if (ar->is_none && ar->nresults > 0)
        abort();
    if (ar->nskipped_kept > PB_LIMIT_AUTHRES_SKIPS ||
        ar->nskipped_kept > ar->nskipped ||
        (ar->nskipped_kept < ar->nskipped &&
         ar->nskipped_kept != PB_LIMIT_AUTHRES_SKIPS))
        abort();
    for (i = 0; i < ar->ncomments; i++)
        if (ar->comments[i] == NULL)
            abort();
    for (i = 0; i < ar->nskipped_kept; i++) {
        const struct authres_skip *s = &ar->skipped[i];

        if (s->why == NULL || s->why[0] == '\0' || s->offset > size ||
            !pb_is_printable(s->text, strlen(s->text)))
            abort();
    }
    for (i = 0; i < ar->nresults; i++) {
        const struct authres_result *r = &ar->results[i];
        const struct authres_result *f;

        check_keyword(r->method, 1);
        check_keyword(r->result, 1);
        if (r->status != authres_status_from(r->result))
            abort();
        if (r->nprops > PB_LIMIT_AUTHRES_PROPS ||
            r->ncomments > PB_LIMIT_AUTHRES_COMMENTS)
            abort();
        for (j = 0; j < r->ncomments; j++)
            if (r->comments[j] == NULL)
                abort();
        for (j = 0; j < r->nprops; j++) {
            check_keyword(r->props[j].ptype, 0);
            check_keyword(r->props[j].property, 1);
            if (r->props[j].value == NULL)
                abort();
            if (authres_prop_get(r, r->props[j].ptype, r->props[j].property) ==
                NULL)
                abort();
        }
        f = authres_find(ar, r->method);
        if (f == NULL || strcmp(f->method, r->method) != 0)
            abort();
        if (r->status == AUTHRES_PASS && f->status != AUTHRES_PASS)
            abort();
    }
    if (ar->authserv_id == NULL || strchr(ar->authserv_id, '*') == NULL) {
        const char *pattern = ar->authserv_id ? ar->authserv_id : "";
        enum authres_trust v[1];
        size_t first;

        if (authres_trust_pick(ar, 1, &pattern, 1, v, &first) != 1 ||
            first != 0 || v[0] != AUTHRES_TRUSTED)
            abort();
    }
}

static int
parse_with(const char *prefix, const uint8_t *data, size_t size, size_t *n)
{
    size_t plen = strlen(prefix);
    char *p = malloc(plen + size + 1);
    struct authres ar;
    struct pb_err err;
    int rc;

    memcpy(p, prefix, plen);
    memcpy(p + plen, data, size);
    rc = authres_parse_field(p, plen + size, &ar, &err);
    if (rc == 0) {
        check(&ar, plen + size);
        *n = ar.nresults;
    } else if (err.msg[0] == '\0' || ar.nresults != 0 || ar.results != NULL) {
        abort();
    }
    authres_release(&ar);
    free(p);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct authres ar;
    struct pb_err err;
    size_t n0 = 0, n1 = 0, n2 = 0;
    int rc0, rc1, rc2;

    pb_err_clear(&err);
    rc0 = authres_parse((const char *)data, size, &ar, &err);
    if (rc0 == 0) {
        check(&ar, size);
        n0 = ar.nresults;
    } else {
        if (err.code != PB_E_SYNTAX && err.code != PB_E_LIMIT)
            abort();
        if (!pb_is_printable(err.msg, strlen(err.msg)) || err.msg[0] == '\0')
            abort();
        if (ar.authserv_id != NULL || ar.results != NULL || ar.nresults != 0)
            abort();
    }
    authres_release(&ar);

    rc1 = parse_with("Authentication-Results:", data, size, &n1);
    rc2 = parse_with("ARC-Authentication-Results: i=1;", data, size, &n2);
    if (size + 32 <= PB_LIMIT_AUTHRES_FIELD &&
        (rc0 != rc1 || rc1 != rc2 || n0 != n1 || n1 != n2))
        abort();
    return 0;
}
