/* SPDX-License-Identifier: MIT */
#include "pb_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

const char *
pb_text_check(const void *p, size_t len)
{
    const unsigned char *u = p;
    size_t i = 0, k, n;
    uint32_t c, min;

    while (i < len) {
        c = u[i];
        if (c == '\r' || c == '\n')
            return "holds a line break (CR or LF)";
        if (c == 0)
            return "holds a NUL";
        if (c < 0x20 || c == 0x7f)
            return "holds a control character";
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return "is not valid UTF-8";
        }
        if (n >= len - i)
            return "is not valid UTF-8";
        for (k = 1; k <= n; k++) {
            if ((u[i + k] & 0xc0) != 0x80)
                return "is not valid UTF-8";
            c = (c << 6) | (u[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return "is not valid UTF-8";
        if (c <= 0x9f)
            return "holds a control character";
        i += n + 1;
    }
    return NULL;
}

void
pb_text_line_col(const char *p, size_t len, size_t off, size_t *line,
                 size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (p[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

size_t
pb_text_json_nul(const char *p, size_t len)
{
    bool is_in_string = false;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\0')
            return i;
        if (!is_in_string) {
            is_in_string = p[i] == '"';
            continue;
        }
        if (p[i] == '"') {
            is_in_string = false;
        } else if (p[i] == '\\' && i + 1 < len) {
            if (p[i + 1] == 'u' && len - i >= 6 &&
                memcmp(p + i + 2, "0000", 4) == 0)
                return i;
            i++;
        }
    }
    return len;
}
