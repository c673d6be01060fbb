/* SPDX-License-Identifier: MIT */
/*
 * Envelope address checks: RFC 5321 §4.1.2 Mailbox (Dot-string or
 * Quoted-string local part, Domain or address literal, §4.1.3) with the
 * §4.5.3.1 size limits.  Leaves out SMTPUTF8 (RFC 6531), the source routes
 * of §4.1.2 A-d-l, and general address literals other than IPv6.
 */
#include "pb_addr.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pb_ctype.h"
#include "pb_limits.h"

static int fail(struct pb_err *err, const char *addr, size_t len,
                enum pb_code code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Fail with our sentence and the escaped address as evidence. */
static int
fail(struct pb_err *err, const char *addr, size_t len, enum pb_code code,
     const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pb_err_set(err, PB_STAGE_CONFIG, code, "%s", msg);
    pb_err_evidence(err, addr, len);
    return -1;
}

/* A byte named for a sentence: "a space", "'<'", "a carriage return". */
static const char *
describe(unsigned char c, char *buf, size_t size)
{
    switch (c) {
    case ' ':
        return "a space";
    case '\t':
        return "a tab";
    case '\r':
        return "a carriage return (CR)";
    case '\n':
        return "a line feed (LF)";
    case '\0':
        return "a NUL byte";
    case '@':
        return "a second '@'";
    default:
        break;
    }
    if (c < 0x20 || c == 0x7f)
        snprintf(buf, size, "the control character 0x%02x", c);
    else if (c >= 0x80)
        snprintf(buf, size, "the non-ASCII byte 0x%02x", c);
    else
        snprintf(buf, size, "'%c'", c);
    return buf;
}

/* RFC 5322 §3.2.3 atext, which RFC 5321 §4.1.2 Atom uses. */
static bool
is_atext(unsigned char c)
{
    return pb_is_alnum(c) ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 §4.1.3 IPv4-address-literal: four Snum (1*3DIGIT, 0..255). */
static bool
is_ipv4(const unsigned char *s, size_t len)
{
    size_t i = 0, part;

    for (part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;

        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        while (i < len && pb_is_digit(s[i]) && digits < 4) {
            v = v * 10 + (unsigned)(s[i] - '0');
            digits++;
            i++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return false;
    }
    return i == len;
}

/* RFC 5321 §4.1.3 IPv6-addr (full, compressed, with a trailing IPv4). */
static bool
is_ipv6(const unsigned char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    size_t i;

    if (len == 0 || len >= sizeof(buf))
        return false;
    for (i = 0; i < len; i++)
        if (!pb_is_hex(s[i]) && s[i] != ':' && s[i] != '.')
            return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, bin) == 1;
}

/* The address literal at addr[d..len), brackets included (§4.1.3). */
static int
check_literal(const char *addr, size_t len, size_t d, struct pb_err *err)
{
    const unsigned char *s = (const unsigned char *)addr;
    const unsigned char *in = s + d + 1;
    const unsigned char *close = memchr(in, ']', len - d - 1);
    const unsigned char *colon;
    char what[40];
    size_t n;

    if (close == NULL)
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the address literal has no closing ']'");
    if ((size_t)(close - s) != len - 1)
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the address has %s at position %zu, after the address "
                    "literal",
                    describe(close[1], what, sizeof(what)),
                    (size_t)(close - s) + 2);
    n = (size_t)(close - in);
    if (n == 0)
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the address literal [] is empty");
    colon = memchr(in, ':', n);
    if (colon == NULL) {
        if (!is_ipv4(in, n))
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the address literal is not an IPv4 address "
                        "(write [192.0.2.1], or [IPv6:2001:db8::1])");
        return 0;
    }
    /* §4.1.3 General-address-literal: only the IPv6 tag is registered;
     * tags are case-insensitive like every ABNF literal string */
    if (colon - in != 4 || (in[0] | 0x20) != 'i' || (in[1] | 0x20) != 'p' ||
        (in[2] | 0x20) != 'v' || in[3] != '6')
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the address literal is neither IPv4 nor tagged IPv6 "
                    "(write [192.0.2.1] or [IPv6:2001:db8::1])");
    if (!is_ipv6(colon + 1, n - 5))
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the address literal is not a valid IPv6 address");
    return 0;
}

/* The domain at addr[d..len): LDH labels (§4.1.2 Domain, RFC 1035). */
static int
check_domain(const char *addr, size_t len, size_t d, struct pb_err *err)
{
    const unsigned char *s = (const unsigned char *)addr;
    size_t i, label = d, labels = 0;
    bool numeric = true;
    char what[40];

    if (d == len)
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the domain after '@' is empty");
    if (s[d] == '[')
        return check_literal(addr, len, d, err);
    if (len - d > PB_LIMIT_DNS_NAME)
        return fail(err, addr, len, PB_E_LIMIT,
                    "the domain is %zu octets long, more than %d", len - d,
                    PB_LIMIT_DNS_NAME);
    for (i = d; i <= len; i++) {
        unsigned char c = i < len ? s[i] : '.';

        if (c == '.') {
            if (i == label) {
                if (i == d)
                    return fail(err, addr, len, PB_E_SYNTAX,
                                "the domain starts with a dot");
                if (i == len)
                    return fail(err, addr, len, PB_E_SYNTAX,
                                "the domain ends with a dot");
                return fail(err, addr, len, PB_E_SYNTAX,
                            "the domain has two dots in a row at "
                            "position %zu",
                            i + 1);
            }
            if (s[i - 1] == '-')
                return fail(err, addr, len, PB_E_SYNTAX,
                            "a domain label ends with a hyphen at "
                            "position %zu",
                            i);
            if (i - label > PB_LIMIT_DNS_LABEL)
                return fail(err, addr, len, PB_E_LIMIT,
                            "the domain label at position %zu is %zu "
                            "octets long, more than %d",
                            label + 1, i - label, PB_LIMIT_DNS_LABEL);
            labels++;
            label = i + 1;
            if (i < len)
                numeric = true;
            continue;
        }
        if (c == '-' && i == label)
            return fail(err, addr, len, PB_E_SYNTAX,
                        "a domain label starts with a hyphen at position %zu",
                        i + 1);
        if (!pb_is_alnum(c) && c != '-')
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the domain has %s at position %zu",
                        describe(c, what, sizeof(what)), i + 1);
        if (!pb_is_digit(c))
            numeric = false;
    }
    if (labels < 2)
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the domain has a single label; a mail domain has at "
                    "least two (example.com), or is an address literal "
                    "([192.0.2.1])");
    /* RFC 3696 §2: a top-level domain is never all digits, so this is an
     * IP address written without brackets */
    if (numeric)
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the domain ends in an all-numeric label; write an IP "
                    "address as a literal ([192.0.2.1])");
    return 0;
}

int
pb_addr_check(const char *addr, size_t len, struct pb_err *err)
{
    const unsigned char *s = (const unsigned char *)addr;
    char what[40];
    size_t i, at;

    if (addr == NULL || len == 0)
        return fail(err, "", 0, PB_E_SYNTAX, "the address is empty");
    /* RFC 5321 §4.1.2: no controls anywhere, quoted or not; a CR or LF
     * here would end the command early and start one of the sender's */
    for (i = 0; i < len; i++) {
        if (s[i] >= 0x80)
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the address has %s at position %zu: "
                        "internationalized addresses (SMTPUTF8) are not "
                        "supported yet",
                        describe(s[i], what, sizeof(what)), i + 1);
        if (s[i] < 0x20 || s[i] == 0x7f)
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the address has %s at position %zu",
                        describe(s[i], what, sizeof(what)), i + 1);
    }
    if (len > PB_LIMIT_MAILBOX)
        return fail(err, addr, len, PB_E_LIMIT,
                    "the address is %zu octets long, more than %d", len,
                    PB_LIMIT_MAILBOX);

    if (s[0] == '<')
        return fail(err, addr, len, PB_E_SYNTAX,
                    "the address starts with '<'; give it without angle "
                    "brackets");
    if (s[0] == '"') {
        /* §4.1.2 Quoted-string: qtextSMTP is printable ASCII but '"' and
         * '\', and quoted-pairSMTP is '\' and one printable character */
        for (i = 1;; i++) {
            if (i >= len)
                return fail(err, addr, len, PB_E_SYNTAX,
                            "the quoted local part has no closing quote");
            if (s[i] == '\\') {
                if (++i >= len)
                    return fail(err, addr, len, PB_E_SYNTAX,
                                "the quoted local part has no closing "
                                "quote");
                continue;
            }
            if (s[i] == '"')
                break;
        }
        at = i + 1;
        if (at == len)
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the address has no '@' after the quoted local "
                        "part");
        if (s[at] != '@')
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the address has %s at position %zu where '@' "
                        "should follow the quoted local part",
                        describe(s[at], what, sizeof(what)), at + 1);
    } else {
        /* §4.1.2 Dot-string: Atom *("." Atom) */
        for (i = 0; i < len && s[i] != '@'; i++) {
            if (s[i] == '.') {
                if (i == 0)
                    return fail(err, addr, len, PB_E_SYNTAX,
                                "the local part starts with a dot");
                if (s[i - 1] == '.')
                    return fail(err, addr, len, PB_E_SYNTAX,
                                "the local part has two dots in a row at "
                                "position %zu",
                                i + 1);
                continue;
            }
            if (!is_atext(s[i]))
                return fail(err, addr, len, PB_E_SYNTAX,
                            "the local part has %s at position %zu%s",
                            describe(s[i], what, sizeof(what)), i + 1,
                            s[i] == '"' || s[i] == ' '
                                ? " (quote the whole local part: "
                                  "\"a b\"@example.com)"
                                : "");
        }
        if (i == len)
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the address has no '@' (expected "
                        "local-part@domain)");
        if (i == 0)
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the local part before '@' is empty");
        if (s[i - 1] == '.')
            return fail(err, addr, len, PB_E_SYNTAX,
                        "the local part ends with a dot at position %zu", i);
        at = i;
    }
    if (at > PB_LIMIT_LOCALPART)
        return fail(err, addr, len, PB_E_LIMIT,
                    "the local part is %zu octets long, more than %d", at,
                    PB_LIMIT_LOCALPART);
    return check_domain(addr, len, at + 1, err);
}

const char *
pb_addr_domain(const char *addr)
{
    const char *at = addr != NULL ? strrchr(addr, '@') : NULL;

    return at != NULL ? at + 1 : NULL;
}
