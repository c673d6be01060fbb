/* SPDX-License-Identifier: MIT */
/*
 * The probe message: RFC 5322 header fields (folded within 78 columns,
 * RFC 2047 encoded-words for non-ASCII text), MIME (RFC 2045/2046) with
 * quoted-printable text and HTML parts, List-Unsubscribe (RFC 2369) and
 * one-click List-Unsubscribe-Post (RFC 8058), and a probe token in
 * X-Probe-Id and in each body part.  No attachments, no SMTPUTF8 addresses.
 */
#include "smtp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pb_buf.h"
#include "pb_ctype.h"
#include "pb_limits.h"

/* RFC 2047 §2: an encoded-word is at most 75 characters. */
#define ENCODED_WORD_MAX 75
/* "=?UTF-8?B?" and "?=" around the base64 text */
#define ENCODED_WORD_OVERHEAD 12
/* RFC 2045 §6.7 (5): quoted-printable lines are at most 76 characters. */
#define QP_LINE_MAX 76

/* The message being written; `full` is sticky once over the limit. */
struct mb {
    struct pb_buf b;
    size_t col; /* column in the current line, for folding */
    bool full;
};

static void
put(struct mb *m, const void *p, size_t n)
{
    const char *s = p;
    size_t i;

    if (m->full || pb_buf_add(&m->b, p, n) == -1) {
        m->full = true;
        return;
    }
    for (i = 0; i < n; i++)
        m->col = s[i] == '\n' ? 0 : m->col + 1;
}

static void
puts_(struct mb *m, const char *s)
{
    put(m, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct mb *m, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        m->full = true; /* our own formats stay far below */
        return;
    }
    put(m, line, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Checking values                                                     */

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned int cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* RFC 3629: no overlong forms, no surrogates, nothing over U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

/* Offset of the first byte that is not valid UTF-8, or n. */
static size_t
utf8_bad(const char *p, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        k = utf8_seq((const unsigned char *)p + i, n - i);
        if (k == 0)
            return i;
        i += k;
    }
    return n;
}

/* One-line text (subject, display name): UTF-8, no control characters. */
static int
check_text(const char *what, const char *s, struct pb_err *err)
{
    size_t n = strlen(s), i;

    if (n > PB_LIMIT_MSG_TEXT)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s is %zu bytes, over the limit of %d", what, n,
                          PB_LIMIT_MSG_TEXT);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\r' || c == '\n')
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s has a line break (CR or LF), which would "
                              "start a new header field",
                              what);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s has a control character at byte %zu", what,
                              i + 1);
    }
    i = utf8_bad(s, n);
    if (i < n)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s is not UTF-8 text (byte %zu)", what, i + 1);
    return 0;
}

/* RFC 5322 §3.2.3 atext */
static bool
is_atext(unsigned char c)
{
    return pb_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* An LDH domain name (RFC 5321 §4.1.2). */
static bool
is_domain(const char *s, size_t n)
{
    size_t i, label = 0;

    if (n == 0 || n > PB_LIMIT_DNS_NAME)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!pb_is_alnum(c) && c != '-')
            return false;
        if ((c == '-' && label == 0) || ++label > PB_LIMIT_DNS_LABEL)
            return false;
    }
    return label > 0 && s[n - 1] != '-';
}

/* addr-spec with a dot-atom local part and an LDH domain */
static int
check_addr(const char *what, const char *s, struct pb_err *err)
{
    const char *at;
    size_t n, i, local;

    if (check_text(what, s, err) == -1)
        return -1;
    n = strlen(s);
    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s has non-ASCII characters; addresses that "
                              "need SMTPUTF8 are not supported (write the "
                              "domain in its xn-- form)",
                              what);
    }
    at = strrchr(s, '@');
    if (at == NULL || n > PB_LIMIT_ADDRESS)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s is not an address (local-part@domain)", what);
    local = (size_t)(at - s);
    if (local == 0 || local > PB_LIMIT_LOCALPART || s[0] == '.' ||
        s[local - 1] == '.')
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s has an empty, too long or dotted-at-the-end "
                          "local part",
                          what);
    for (i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.' ? s[i + 1] == '.' : !is_atext(c))
            return pb_err_set(
                err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                "%s has '%c' in its local part; only the "
                "dot-atom form (RFC 5322 section 3.4.1) is supported",
                what, (char)c);
    }
    if (!is_domain(at + 1, n - local - 1))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s has no valid domain after the @ (letters, "
                          "digits, hyphens, dots)",
                          what);
    return 0;
}

/* An http(s) URL we can put inside <...> and an HTML attribute. */
static int
check_url(const char *what, const char *s, bool https_only, struct pb_err *err)
{
    size_t n = strlen(s), i;

    if (strncmp(s, "https://", 8) != 0 &&
        (https_only || strncmp(s, "http://", 7) != 0))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s must start with https://%s", what,
                          https_only ? "" : " or http://");
    /* room for "List-Unsubscribe: <" ">" on one line */
    if (n > PB_LIMIT_MSG_LINE - 40)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s is %zu bytes; at most %d fit a header line", what,
                          n, PB_LIMIT_MSG_LINE - 40);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\r' || c == '\n')
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s has a line break (CR or LF)", what);
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"')
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s has a space, a quote, '<', '>' or a "
                              "non-ASCII byte at byte %zu; percent-encode it",
                              what, i + 1);
    }
    return 0;
}

static int
check_token(const char *s, struct pb_err *err)
{
    size_t n = strlen(s), i;

    if (n < 8 || n > PB_LIMIT_PROBE_TOKEN)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "probe token must have 8 to %d characters",
                          PB_LIMIT_PROBE_TOKEN);
    for (i = 0; i < n; i++) {
        if (!pb_is_alnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "probe token may hold only letters, digits, "
                              "'-' and '_'");
    }
    return 0;
}

/* A body: UTF-8 text without NUL. */
static int
check_body(const char *what, const char *p, size_t n, struct pb_err *err)
{
    size_t bad;

    if (memchr(p, '\0', n) != NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s has a NUL byte", what);
    bad = utf8_bad(p, n);
    if (bad < n)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s is not UTF-8 text (byte %zu)", what, bad + 1);
    return 0;
}

static int
check_header(const char *h, struct pb_err *err)
{
    static const char *const own[] = {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "x-probe-id",
        "dkim-signature",
    };
    const char *colon = strchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : 0;

    if (colon == NULL || n == 0 || n > PB_LIMIT_MSG_FIELD_NAME)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "header `%.60s`: write it as Name: value", h);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h[i] <= 32 || (unsigned char)h[i] >= 127)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "header `%.60s`: the name may hold only "
                              "printable ASCII without spaces",
                              h);
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strlen(own[i]) == n && strncasecmp(h, own[i], n) == 0)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                              "header %.*s: probe writes that field itself",
                              (int)n, h);
    if (n >= 8 && strncasecmp(h, "content-", 8) == 0)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "header %.*s: probe writes the MIME fields itself",
                          (int)n, h);
    if (strlen(h) > PB_LIMIT_MSG_LINE)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "header %.*s: longer than %d octets", (int)n, h,
                          PB_LIMIT_MSG_LINE);
    return check_text("header", colon + 1, err);
}

static int
check_params(const struct msg_build_params *p, struct pb_err *err)
{
    size_t i;

    if (p->nheaders > MSG_BUILD_MAX_HEADERS)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "more than %d extra header fields",
                          MSG_BUILD_MAX_HEADERS);
    for (i = 0; i < p->nheaders; i++)
        if (check_header(p->headers[i], err) == -1)
            return -1;

    if (p->from == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX, "no From address");
    if (check_addr("From address", p->from, err) == -1)
        return -1;
    if (p->from_name != NULL &&
        check_text("From display name", p->from_name, err) == -1)
        return -1;
    if (p->nto == 0 || p->to == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX, "no To address");
    if (p->nto > PB_LIMIT_MSG_TO)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%zu To addresses, over the limit of %d", p->nto,
                          PB_LIMIT_MSG_TO);
    for (i = 0; i < p->nto; i++) {
        if (p->to[i] == NULL)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "To address %zu is missing", i + 1);
        if (check_addr("To address", p->to[i], err) == -1)
            return -1;
    }
    if (p->subject != NULL && check_text("subject", p->subject, err) == -1)
        return -1;
    if (p->text != NULL &&
        check_body("text body", p->text, p->text_len, err) == -1)
        return -1;
    if (p->html != NULL &&
        check_body("HTML body", p->html, p->html_len, err) == -1)
        return -1;
    if (p->link_url != NULL &&
        check_url("link URL", p->link_url, false, err) == -1)
        return -1;
    if (p->unsubscribe_url != NULL &&
        check_url("unsubscribe URL", p->unsubscribe_url, p->one_click, err) ==
            -1)
        return -1;
    if (p->unsubscribe_mailto != NULL &&
        check_addr("unsubscribe address", p->unsubscribe_mailto, err) == -1)
        return -1;
    if (p->one_click && p->unsubscribe_url == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "one-click unsubscribe (RFC 8058) needs an https "
                          "unsubscribe URL");
    if (p->token != NULL && check_token(p->token, err) == -1)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Header fields                                                       */

/*
 * RFC 2047 encoded-words ("B" encoding, UTF-8) for (s, n), the first on
 * the current line and each further one on a folded line; words never
 * split a UTF-8 sequence (RFC 2047 §5 (3)).
 */
static void
put_encoded(struct mb *m, const char *s, size_t n)
{
    size_t i = 0;
    bool first = true;

    while (i < n) {
        unsigned char raw[48];
        char b64[72];
        size_t room, take = 0, k;

        if (!first ||
            m->col + 1 + ENCODED_WORD_OVERHEAD + 8 > PB_LIMIT_MSG_FOLD) {
            put(m, "\r\n", 2);
        }
        put(m, " ", 1);
        room = PB_LIMIT_MSG_FOLD - m->col;
        if (room > ENCODED_WORD_MAX)
            room = ENCODED_WORD_MAX;
        room = (room - ENCODED_WORD_OVERHEAD) / 4 * 3; /* input bytes */
        if (room > sizeof(raw))
            room = sizeof(raw);
        while (i + take < n) {
            k = utf8_seq((const unsigned char *)s + i + take, n - i - take);
            if (k == 0)
                k = 1; /* checked before; never split what is there */
            if (take + k > room)
                break;
            take += k;
        }
        if (take == 0)
            take = 1; /* never stall, even with no room at all */
        memcpy(raw, s + i, take);
        EVP_EncodeBlock((unsigned char *)b64, raw, (int)take);
        putf(m, "=?UTF-8?B?%s?=", b64);
        i += take;
        first = false;
    }
}

static bool
is_plain_ascii(const char *s, size_t *longest_word)
{
    size_t run = 0;

    *longest_word = 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c >= 0x80)
            return false;
        if (c == '=' && s[1] == '?')
            return false; /* would read as an encoded-word */
        run = pb_is_wsp(c) ? 0 : run + 1;
        if (run > *longest_word)
            *longest_word = run;
    }
    return true;
}

/* Unstructured text (RFC 5322 §3.2.5), folded before WSP. */
static void
put_unstructured(struct mb *m, const char *s)
{
    size_t n = strlen(s), i = 0, longest;

    if (n == 0)
        return;
    /* a word too long for one line, or non-ASCII: encoded-words fold */
    if (!is_plain_ascii(s, &longest) || longest + 2 > PB_LIMIT_MSG_LINE - 10) {
        put_encoded(m, s, n);
        return;
    }
    put(m, " ", 1);
    while (i < n) {
        size_t j = i;

        /* the next word with the WSP before it */
        while (j < n && pb_is_wsp((unsigned char)s[j]))
            j++;
        while (j < n && !pb_is_wsp((unsigned char)s[j]))
            j++;
        if (i > 0 && m->col + (j - i) > PB_LIMIT_MSG_FOLD)
            put(m, "\r\n", 2); /* the WSP at s[i] continues the field */
        put(m, s + i, j - i);
        i = j;
    }
}

/* RFC 5322 §3.4 display-name: atoms, a quoted-string, or encoded-words */
static void
put_display_name(struct mb *m, const char *s)
{
    size_t n = strlen(s), i, longest;
    bool atoms = n > 0 && s[0] != ' ' && s[n - 1] != ' ';

    if (!is_plain_ascii(s, &longest) || n + 10 > PB_LIMIT_MSG_LINE / 2) {
        put_encoded(m, s, n);
        return;
    }
    for (i = 0; i < n && atoms; i++)
        atoms =
            is_atext((unsigned char)s[i]) || (s[i] == ' ' && s[i + 1] != ' ');
    put(m, " ", 1);
    if (atoms) {
        put(m, s, n);
        return;
    }
    put(m, "\"", 1);
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(m, "\\", 1);
        put(m, s + i, 1);
    }
    put(m, "\"", 1);
}

static void
put_date(struct mb *m, time_t t)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    /* RFC 5322 §3.3, in UTC: no locale, no time zone database */
    if (gmtime_r(&t, &tm) == NULL) {
        m->full = true;
        return;
    }
    putf(m, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
         days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
put_header(struct mb *m, const struct msg_build_params *p, const char *token,
           const char *domain, const char *boundary, bool multi)
{
    size_t i;

    puts_(m, "From:");
    if (p->from_name != NULL && p->from_name[0] != '\0') {
        put_display_name(m, p->from_name);
        if (m->col + 3 + strlen(p->from) > PB_LIMIT_MSG_FOLD)
            put(m, "\r\n", 2);
        putf(m, " <%s>\r\n", p->from);
    } else {
        putf(m, " %s\r\n", p->from);
    }
    puts_(m, "To:");
    for (i = 0; i < p->nto; i++) {
        if (i > 0 && m->col + 2 + strlen(p->to[i]) > PB_LIMIT_MSG_FOLD)
            put(m, "\r\n", 2);
        putf(m, " %s%s", p->to[i], i + 1 < p->nto ? "," : "\r\n");
    }
    puts_(m, "Subject:");
    if (p->subject != NULL) {
        put_unstructured(m, p->subject);
    } else {
        putf(m, " Your update from %s", domain);
    }
    puts_(m, "\r\n");
    put_date(m, p->date ? p->date : time(NULL));
    putf(m, "Message-ID: <%s@%s>\r\n", token, domain);
    puts_(m, "MIME-Version: 1.0\r\n");
    if (multi) {
        putf(m, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n",
             boundary);
    } else {
        putf(m, "Content-Type: text/%s; charset=utf-8\r\n",
             p->text != NULL ? "plain" : "html");
        puts_(m, "Content-Transfer-Encoding: quoted-printable\r\n");
    }
    if (p->unsubscribe_url != NULL || p->unsubscribe_mailto != NULL) {
        puts_(m, "List-Unsubscribe:");
        if (p->unsubscribe_url != NULL)
            putf(m, " <%s>%s", p->unsubscribe_url,
                 p->unsubscribe_mailto != NULL ? "," : "");
        if (p->unsubscribe_mailto != NULL) {
            if (m->col + 11 + strlen(p->unsubscribe_mailto) > PB_LIMIT_MSG_FOLD)
                put(m, "\r\n", 2);
            putf(m, " <mailto:%s>", p->unsubscribe_mailto);
        }
        puts_(m, "\r\n");
    }
    if (p->one_click)
        puts_(m, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    putf(m, "X-Probe-Id: %s\r\n", token);
    for (i = 0; i < p->nheaders; i++) {
        puts_(m, p->headers[i]);
        puts_(m, "\r\n");
    }
}

/* ------------------------------------------------------------------ */
/* Bodies                                                              */

/* RFC 2045 §6.7 quoted-printable of UTF-8 text with any line endings. */
static void
put_qp(struct mb *m, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;

    while (i < n) {
        size_t end = i, col = 0, k;

        while (end < n && s[end] != '\r' && s[end] != '\n')
            end++;
        for (k = i; k < end; k++) {
            unsigned char c = (unsigned char)s[k];
            bool last = k + 1 == end;
            char tok[3];
            size_t tl = 1;

            /* encode: 8-bit, controls, '=', WSP at the end of a line
             * (rule 3), and "From " or "." first (mbox and SMTP habits) */
            if (c >= 0x7f || (c < 0x20 && c != '\t') || c == '=' ||
                (pb_is_wsp(c) && last) ||
                (k == i && (c == '.' || (c == 'F' && end - k >= 5 &&
                                         memcmp(s + k, "From ", 5) == 0)))) {
                tok[0] = '=';
                tok[1] = hex[c >> 4];
                tok[2] = hex[c & 15];
                tl = 3;
            } else {
                tok[0] = (char)c;
            }
            /* soft line break: keep room for the '=' (rule 5) */
            if (col + tl > QP_LINE_MAX - 1 &&
                !(last && col + tl <= QP_LINE_MAX)) {
                put(m, "=\r\n", 3);
                col = 0;
            }
            put(m, tok, tl);
            col += tl;
        }
        put(m, "\r\n", 2);
        if (end < n)
            end +=
                (s[end] == '\r' && end + 1 < n && s[end + 1] == '\n') ? 2 : 1;
        i = end;
    }
}

static void
html_escape(struct pb_buf *b, const char *s, bool *full)
{
    for (; *s != '\0'; s++) {
        const char *e = NULL;

        switch (*s) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        default:
            break;
        }
        if ((e != NULL ? pb_buf_adds(b, e) : pb_buf_addc(b, *s)) == -1)
            *full = true;
    }
}

/* The default campaign-like bodies, and the token added to given ones. */
static void
default_bodies(const char *domain, const char *link, const char *unsub,
               const char *token, struct pb_buf *text, struct pb_buf *html,
               bool *full)
{
    if (pb_buf_addf(text,
                    "Hello,\n"
                    "\n"
                    "Here is this month's update from %s: what is new, "
                    "what changed\n"
                    "and what comes next, in a two-minute read.\n"
                    "\n"
                    "Read the full update: %s\n"
                    "\n"
                    "Thank you for reading,\n"
                    "The %s team\n"
                    "\n"
                    "--\n"
                    "You receive this message because you subscribed to "
                    "updates from %s.\n"
                    "Unsubscribe: %s\n"
                    "Reference: %s\n",
                    domain, link, domain, domain, unsub, token) == -1)
        *full = true;
    *full |=
        pb_buf_addf(html,
                    "<!DOCTYPE html>\n"
                    "<html lang=\"en\">\n"
                    "<head>\n"
                    "<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, "
                    "initial-scale=1\">\n"
                    "<title>Your update from %s</title>\n"
                    "</head>\n"
                    "<body style=\"margin:0;padding:0;font-family:Arial,"
                    "Helvetica,sans-serif;color:#222222;\">\n"
                    "<table role=\"presentation\" width=\"100%%\" "
                    "cellpadding=\"0\" cellspacing=\"0\">\n"
                    "<tr><td style=\"padding:24px;\">\n"
                    "<p>Hello,</p>\n"
                    "<p>Here is this month's update from %s: what is "
                    "new, what changed and what comes next, in a "
                    "two-minute read.</p>\n"
                    "<p><a href=\"",
                    domain, domain) == -1;
    html_escape(html, link, full);
    *full |= pb_buf_addf(html,
                         "\" style=\"color:#1a73e8;\">Read the full "
                         "update</a></p>\n"
                         "<p>Thank you for reading,<br>\nThe %s team</p>\n"
                         "<hr style=\"border:none;border-top:1px solid "
                         "#dddddd;\">\n"
                         "<p style=\"font-size:12px;color:#777777;\">You "
                         "receive this message because you subscribed to "
                         "updates from %s.\n<a href=\"",
                         domain, domain) == -1;
    html_escape(html, unsub, full);
    *full |= pb_buf_addf(html,
                         "\" style=\"color:#777777;\">Unsubscribe</a>.<br>\n"
                         "Reference: %s</p>\n"
                         "</td></tr>\n"
                         "</table>\n"
                         "</body>\n"
                         "</html>\n",
                         token) == -1;
}

/* The last "</body" in (p, n), ASCII case-insensitive, or NULL. */
static const char *
find_body_end(const char *p, size_t n)
{
    size_t i;

    for (i = n; i >= 6; i--) {
        const char *q = p + i - 6;

        if (q[0] == '<' && q[1] == '/' && (q[2] | 0x20) == 'b' &&
            (q[3] | 0x20) == 'o' && (q[4] | 0x20) == 'd' &&
            (q[5] | 0x20) == 'y')
            return q;
    }
    return NULL;
}

static void
given_bodies(const struct msg_build_params *p, const char *token,
             struct pb_buf *text, struct pb_buf *html, bool *full)
{
    if (p->text != NULL) {
        *full |= pb_buf_add(text, p->text, p->text_len) == -1;
        *full |= pb_buf_addf(text, "%s\nReference: %s\n",
                             p->text_len > 0 && p->text[p->text_len - 1] != '\n'
                                 ? "\n"
                                 : "",
                             token) == -1;
    }
    if (p->html != NULL) {
        const char *end = find_body_end(p->html, p->html_len);
        size_t head = end != NULL ? (size_t)(end - p->html) : p->html_len;

        *full |= pb_buf_add(html, p->html, head) == -1;
        *full |= pb_buf_addf(html,
                             "\n<p style=\"font-size:11px;color:#999999;\">"
                             "Reference: %s</p>\n",
                             token) == -1;
        *full |= pb_buf_add(html, p->html + head, p->html_len - head) == -1;
    }
}

/* ------------------------------------------------------------------ */

int
msg_build_token(char *dst, struct pb_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[MSG_BUILD_TOKEN_LEN / 2];
    size_t i;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                          "no random bytes for a probe token");
    for (i = 0; i < sizeof(r); i++) {
        dst[2 * i] = hex[r[i] >> 4];
        dst[2 * i + 1] = hex[r[i] & 15];
    }
    dst[MSG_BUILD_TOKEN_LEN] = '\0';
    return 0;
}

int
msg_build(const struct msg_build_params *p, char **out, size_t *outlen,
          struct pb_err *err)
{
    struct mb m;
    struct pb_buf text, html, unsub_link, link;
    char token[PB_LIMIT_PROBE_TOKEN + 1], boundary[PB_LIMIT_PROBE_TOKEN + 16];
    const char *domain;
    bool multi, full = false;
    int rc = -1;

    *out = NULL;
    *outlen = 0;
    if (check_params(p, err) == -1)
        return -1;
    if (p->token != NULL) {
        snprintf(token, sizeof(token), "%s", p->token);
    } else if (msg_build_token(token, err) == -1) {
        return -1;
    }
    domain = strrchr(p->from, '@') + 1;
    /* "=_" cannot occur in quoted-printable text (RFC 2045 §6.7) */
    snprintf(boundary, sizeof(boundary), "=_probe_%s", token);

    pb_buf_init(&m.b, PB_LIMIT_MSG_BYTES);
    m.col = 0;
    m.full = false;
    pb_buf_init(&text, PB_LIMIT_MSG_BYTES / 4);
    pb_buf_init(&html, PB_LIMIT_MSG_BYTES / 4);
    pb_buf_init(&link, 2048);
    pb_buf_init(&unsub_link, 2048);

    if (p->text == NULL && p->html == NULL) {
        if (p->link_url != NULL)
            full |= pb_buf_adds(&link, p->link_url) == -1;
        else
            full |= pb_buf_addf(&link, "https://%s/", domain) == -1;
        if (p->unsubscribe_url != NULL)
            full |= pb_buf_adds(&unsub_link, p->unsubscribe_url) == -1;
        else if (p->unsubscribe_mailto != NULL)
            full |= pb_buf_addf(&unsub_link, "mailto:%s",
                                p->unsubscribe_mailto) == -1;
        else
            full |= pb_buf_addf(&unsub_link, "https://%s/unsubscribe",
                                domain) == -1;
        default_bodies(domain, pb_buf_ptr(&link), pb_buf_ptr(&unsub_link),
                       token, &text, &html, &full);
        multi = true;
    } else {
        given_bodies(p, token, &text, &html, &full);
        multi = p->text != NULL && p->html != NULL;
    }

    put_header(&m, p, token, domain, boundary, multi);
    put(&m, "\r\n", 2);
    if (multi) {
        puts_(&m, "This is a multi-part message in MIME format.\r\n");
        putf(&m, "\r\n--%s\r\n", boundary);
        puts_(&m, "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        put_qp(&m, text.p, text.len);
        putf(&m, "\r\n--%s\r\n", boundary);
        puts_(&m, "Content-Type: text/html; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        put_qp(&m, html.p, html.len);
        putf(&m, "\r\n--%s--\r\n", boundary);
    } else if (p->text != NULL) {
        put_qp(&m, text.p, text.len);
    } else {
        put_qp(&m, html.p, html.len);
    }
    if (full || m.full) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                   "message would be over the limit of %u bytes",
                   PB_LIMIT_MSG_BYTES);
        goto out;
    }
    *out = pb_buf_take(&m.b, outlen);
    rc = 0;
out:
    pb_buf_release(&unsub_link);
    pb_buf_release(&link);
    pb_buf_release(&html);
    pb_buf_release(&text);
    pb_buf_release(&m.b);
    return rc;
}
