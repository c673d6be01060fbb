/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the bounce parser (analyze/dsn.c, dsn_mta.c).
 * Besides memory errors it checks what dsn_parse() promises: it fails
 * only on empty input, the limits hold (recipients, diagnostic length),
 * a status is empty or RFC 3463, a reply code is 0 or 200-599, one-line
 * fields hold no control byte, and a token has msg_build's syntax.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "dsn_int.h"
#include "pb_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A one-line field: NUL-terminated, no control byte. */
static void
check_line(const char *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; s[i] != '\0'; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

static void
check_status(const char *s)
{
    char again[16];

    if (s[0] == '\0')
        return;
    if (!dsn_status_check(s, strlen(s), again) || strcmp(again, s) != 0)
        abort();
    if (s[0] != '2' && s[0] != '4' && s[0] != '5')
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dsn_report r;
    struct pb_err err;
    size_t i;

    if (dsn_parse(data, size, &r, &err) == -1) {
        if (size != 0 || err.code != PB_E_SYNTAX)
            abort();
        dsn_report_release(&r);
        return 0;
    }
    if (r.n > PB_LIMIT_DSN_RECIPIENTS || (r.n > 0 && r.v == NULL))
        abort();
    if (r.kind == DSN_NOT_BOUNCE && r.n != 0)
        abort();
    check_line(r.mta);
    check_line(r.reporting_mta);
    check_line(r.subject);
    check_line(r.original_message_id);
    check_line(r.feedback_type);
    if (r.probe_token != NULL) {
        size_t n = strlen(r.probe_token);

        if (n < 8 || n > PB_LIMIT_PROBE_TOKEN)
            abort();
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)r.probe_token[i];

            if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') &&
                !(c >= 'A' && c <= 'Z') && c != '-' && c != '_')
                abort();
        }
    }
    for (i = 0; i < r.n; i++) {
        const struct dsn_recipient *x = &r.v[i];
        size_t k;

        if (x->address == NULL || x->address[0] == '\0')
            abort();
        for (k = 0; x->address[k] != '\0'; k++)
            if ((unsigned char)x->address[k] <= 0x20 || x->address[k] == 0x7f)
                abort();
        check_line(x->address_type);
        check_line(x->original_recipient);
        check_line(x->action);
        check_line(x->remote_mta);
        check_line(x->last_attempt_date);
        check_line(x->diagnostic_type);
        check_status(x->status);
        check_status(x->dsn_status);
        if (x->reply_code != 0 && (x->reply_code < 200 || x->reply_code > 599))
            abort();
        if ((x->diagnostic == NULL) != (x->diagnostic_len == 0))
            abort();
        if (x->diagnostic_len > PB_LIMIT_DSN_DIAGNOSTIC ||
            (x->diagnostic != NULL && x->diagnostic[x->diagnostic_len] != '\0'))
            abort();
        if ((int)x->stage < PB_STAGE_NONE || x->stage > PB_STAGE_IO)
            abort();
    }
    dsn_report_release(&r);
    return 0;
}
