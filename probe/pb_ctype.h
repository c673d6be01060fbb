/* SPDX-License-Identifier: MIT */
/*
 * ASCII character classes for protocol text.  Unlike <ctype.h> they do
 * not depend on the locale and take any byte, so parsers of outside input
 * use these.
 */
#ifndef PB_PROBE_PB_CTYPE_H
#define PB_PROBE_PB_CTYPE_H

#include <stdbool.h>

static inline bool
pb_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline bool
pb_is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
pb_is_alnum(int c)
{
    return pb_is_digit(c) || pb_is_alpha(c);
}

static inline bool
pb_is_hex(int c)
{
    return pb_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 5234 WSP: space or horizontal tab */
static inline bool
pb_is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

#endif
