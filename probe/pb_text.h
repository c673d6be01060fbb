/* SPDX-License-Identifier: MIT */
/*
 * Checks on text from files the user gives us (profiles, rules, fixtures):
 * one line of printable UTF-8, and where an offset is in lines and columns.
 * Shared by the JSON loaders of probe/ and analyze/.
 */
#ifndef PB_PROBE_PB_TEXT_H
#define PB_PROBE_PB_TEXT_H

#include <stddef.h>

/*
 * Why (p, len) is not one line of printable UTF-8 text, or NULL when it
 * is: "holds a line break (CR or LF)", "holds a NUL", "holds a control
 * character" (C0, DEL and the C1 range U+0080..U+009F), or "is not valid
 * UTF-8" (overlong forms, surrogates and values past U+10FFFF included).
 */
const char *pb_text_check(const void *p, size_t len);

/* Line and column (from 1, in bytes) of offset off in (p, len). */
void pb_text_line_col(const char *p, size_t len, size_t off, size_t *line,
                      size_t *col);

/*
 * The offset of the first NUL in JSON text (p, len): a raw NUL byte, or a
 * "\u0000" escape inside a string, which cJSON would turn into a NUL that
 * silently ends the string.  len when there is none.
 */
size_t pb_text_json_nul(const char *p, size_t len);

#endif
