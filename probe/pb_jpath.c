/* SPDX-License-Identifier: MIT */
#include "pb_jpath.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pb_buf.h"

static void
add(struct pb_jpath *jp, const char *s, size_t len)
{
    size_t room = sizeof(jp->p) - 1 - jp->len;

    if (len > room)
        len = room;
    memcpy(jp->p + jp->len, s, len);
    jp->len += len;
    jp->p[jp->len] = '\0';
}

void
pb_jpath_init(struct pb_jpath *jp, const char *root, enum pb_jpath_style style)
{
    jp->len = 0;
    jp->p[0] = '\0';
    jp->style = style;
    add(jp, root, strlen(root));
}

static bool
is_ident(const char *key, size_t len)
{
    if (len == 0 || (key[0] >= '0' && key[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

size_t
pb_jpath_key(struct pb_jpath *jp, const char *key)
{
    size_t old = jp->len, len = strlen(key);
    char esc[64];

    if (is_ident(key, len)) {
        add(jp, ".", 1);
        add(jp, key, len);
        return old;
    }
    if (jp->style == PB_JPATH_BRACKET) {
        add(jp, "[\"", 2);
        pb_escape_to(esc, sizeof(esc), key, len);
        add(jp, esc, strlen(esc));
        add(jp, "\"]", 2);
        return old;
    }
    add(jp, ".\"", 2);
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '"') {
            add(jp, "\\\"", 2);
        } else {
            pb_escape_to(esc, sizeof(esc), key + i, 1);
            add(jp, esc, strlen(esc));
        }
    }
    add(jp, "\"", 1);
    return old;
}

size_t
pb_jpath_index(struct pb_jpath *jp, size_t i)
{
    size_t old = jp->len;
    char buf[24];

    snprintf(buf, sizeof(buf), "[%zu]", i);
    add(jp, buf, strlen(buf));
    return old;
}

void
pb_jpath_pop(struct pb_jpath *jp, size_t old)
{
    if (old > jp->len)
        return;
    jp->len = old;
    jp->p[old] = '\0';
}

int
pb_jpath_vfail(const struct pb_jpath *jp, struct pb_err *err, enum pb_code code,
               const char *label, const char *fmt, va_list ap)
{
    char what[200];

    vsnprintf(what, sizeof(what), fmt, ap);
    return pb_err_set(err, PB_STAGE_CONFIG, code, "%s: %s: %s", label, jp->p,
                      what);
}

int
pb_jpath_fail(const struct pb_jpath *jp, struct pb_err *err, enum pb_code code,
              const char *label, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = pb_jpath_vfail(jp, err, code, label, fmt, ap);
    va_end(ap);
    return rc;
}
