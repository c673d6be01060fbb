/* SPDX-License-Identifier: MIT */
/* Error reporting for the probe: see pb_err.h. */
#include "pb_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pb_buf.h"

void
pb_err_clear(struct pb_err *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

static void
mark_truncated(char *s, size_t size)
{
    if (size >= 4)
        memcpy(s + size - 4, "...", 4);
}

int
pb_err_set(struct pb_err *err, enum pb_stage stage, enum pb_code code,
           const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL)
        return -1;
    err->stage = stage;
    err->code = code;
    va_start(ap, fmt);
    n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        err->msg[0] = '\0';
    else if ((size_t)n >= sizeof(err->msg))
        mark_truncated(err->msg, sizeof(err->msg));
    return -1;
}

void
pb_err_evidence(struct pb_err *err, const void *p, size_t len)
{
    if (err == NULL)
        return;
    if (pb_escape_to(err->evidence, sizeof(err->evidence), p, len) != 0)
        mark_truncated(err->evidence, sizeof(err->evidence));
}

const char *
pb_stage_name(enum pb_stage stage)
{
    static const char *const names[] = {
        [PB_STAGE_NONE] = "none",         [PB_STAGE_USAGE] = "usage",
        [PB_STAGE_CONFIG] = "config",     [PB_STAGE_DNS] = "dns",
        [PB_STAGE_SPF] = "spf",           [PB_STAGE_CONNECT] = "connect",
        [PB_STAGE_GREETING] = "greeting", [PB_STAGE_EHLO] = "ehlo",
        [PB_STAGE_QUIT] = "quit",         [PB_STAGE_TLS] = "tls",
        [PB_STAGE_AUTH] = "auth",         [PB_STAGE_MAIL] = "mail",
        [PB_STAGE_RCPT] = "rcpt",         [PB_STAGE_DATA] = "data",
        [PB_STAGE_IMAP] = "imap",         [PB_STAGE_IO] = "io",
    };

    if ((size_t)stage >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[stage];
}

const char *
pb_code_name(enum pb_code code)
{
    static const char *const names[] = {
        [PB_E_OK] = "ok",
        [PB_E_USAGE] = "usage",
        [PB_E_SYNTAX] = "syntax",
        [PB_E_LIMIT] = "limit",
        [PB_E_TIMEOUT] = "timeout",
        [PB_E_NETWORK] = "network",
        [PB_E_TEMPFAIL] = "tempfail",
        [PB_E_PERMFAIL] = "permfail",
        [PB_E_IO] = "io",
        [PB_E_INTERNAL] = "internal",
    };

    if ((size_t)code >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[code];
}

int
pb_err_prefix(struct pb_err *err, const char *prefix)
{
    char m[2 * sizeof(err->msg)];
    int n;

    if (err == NULL)
        return -1;
    n = snprintf(m, sizeof(m), "%.120s: %s", prefix, err->msg);
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof(err->msg))
        memcpy(m + sizeof(err->msg) - 4, "...", 4);
    memcpy(err->msg, m, sizeof(err->msg));
    return -1;
}
