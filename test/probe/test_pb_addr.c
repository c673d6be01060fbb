/* SPDX-License-Identifier: MIT */
/*
 * Envelope address checks (probe/pb_addr.c): every accepted form of RFC
 * 5321 §4.1.2 Mailbox, each refusal with its sentence, the length limits
 * at and one over, and hostile input (CR/LF injection, NUL, 8-bit).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "pb_addr.h"
#include "pb_limits.h"
#include "testdata.h"

/* A string of n copies of c. */
static char *
rep(char *dst, char c, size_t n)
{
    memset(dst, c, n);
    dst[n] = '\0';
    return dst;
}

static const char *const good[] = {
    "a@example.com",
    "user@mail.example.com",
    "first.last@example.com",
    "a.b.c.d@example.com",
    "user+tag@example.com",
    "!#$%&'*+-/=?^_`{|}~@example.com", /* every atext special */
    "UPPER@EXAMPLE.COM",
    "1234@example.com",
    "a@b.co",
    "a@a-b.example",
    "a@1a.example",
    "a@x1.2com", /* the last label has a letter */
    "a@xn--bcher-kva.example",
    "\"john smith\"@example.com",
    "\"\"@example.com", /* RFC 5321 allows an empty Quoted-string */
    "\"a\\\"b\"@example.com",
    "\"a\\\\b\"@example.com",
    "\"a@b\"@example.com",
    "\"a,b;c<d>\"@example.com",
    "\"..\"@example.com",
    "a@[192.0.2.1]",
    "a@[0.0.0.0]",
    "a@[255.255.255.255]",
    "a@[IPv6:2001:db8::1]",
    "a@[ipv6:2001:DB8:0:0:0:0:0:1]",
    "a@[IPv6:::1]",
    "a@[IPv6:::ffff:192.0.2.1]",
};

ParameterizedTestParameters(pb_addr, accepts_valid)
{
    return testdata_index_params(sizeof(good) / sizeof(good[0]));
}

ParameterizedTest(size_t *ix, pb_addr, accepts_valid)
{
    struct pb_err err;
    const char *a = good[*ix];

    pb_err_clear(&err);
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), 0, "%s: %s", a, err.msg);
}

struct bad_case {
    const char *addr;
    size_t len; /* 0: strlen */
    enum pb_code code;
    const char *msg; /* the whole sentence */
};

static const struct bad_case bad[] = {
    {"", 0, PB_E_SYNTAX, "the address is empty"},
    {"a@b.com>\r\nRCPT TO:<x@y>", 0, PB_E_SYNTAX,
     "the address has a carriage return (CR) at position 9"},
    {"a@b.com\nRCPT TO:<x@y>", 0, PB_E_SYNTAX,
     "the address has a line feed (LF) at position 8"},
    {"a@b.com\0x", 9, PB_E_SYNTAX, "the address has a NUL byte at position 8"},
    {"\"a\rb\"@b.com", 0, PB_E_SYNTAX,
     "the address has a carriage return (CR) at position 3"},
    {"a\x01@b.com", 0, PB_E_SYNTAX,
     "the address has the control character 0x01 at position 2"},
    {"a\x7f@b.com", 0, PB_E_SYNTAX,
     "the address has the control character 0x7f at position 2"},
    {"a\tb@x.com", 0, PB_E_SYNTAX, "the address has a tab at position 2"},
    {"j\xc3\xb6hn@example.com", 0, PB_E_SYNTAX,
     "the address has the non-ASCII byte 0xc3 at position 2: "
     "internationalized addresses (SMTPUTF8) are not supported yet"},
    {"john smith@example.com", 0, PB_E_SYNTAX,
     "the local part has a space at position 5 (quote the whole local part: "
     "\"a b\"@example.com)"},
    {"a b@example.com", 0, PB_E_SYNTAX,
     "the local part has a space at position 2 (quote the whole local part: "
     "\"a b\"@example.com)"},
    {"<a@example.com>", 0, PB_E_SYNTAX,
     "the address starts with '<'; give it without angle brackets"},
    {"a<b@example.com", 0, PB_E_SYNTAX, "the local part has '<' at position 2"},
    {"a(b)@example.com", 0, PB_E_SYNTAX,
     "the local part has '(' at position 2"},
    {"a,b@example.com", 0, PB_E_SYNTAX, "the local part has ',' at position 2"},
    {"a\\b@example.com", 0, PB_E_SYNTAX,
     "the local part has '\\' at position 2"},
    {"a\"b\"@example.com", 0, PB_E_SYNTAX,
     "the local part has '\"' at position 2 (quote the whole local part: "
     "\"a b\"@example.com)"},
    {".a@example.com", 0, PB_E_SYNTAX, "the local part starts with a dot"},
    {"a.@example.com", 0, PB_E_SYNTAX,
     "the local part ends with a dot at position 2"},
    {"a..b@example.com", 0, PB_E_SYNTAX,
     "the local part has two dots in a row at position 3"},
    {"@example.com", 0, PB_E_SYNTAX, "the local part before '@' is empty"},
    {"example.com", 0, PB_E_SYNTAX,
     "the address has no '@' (expected local-part@domain)"},
    {"\"abc", 0, PB_E_SYNTAX, "the quoted local part has no closing quote"},
    {"\"abc\\", 0, PB_E_SYNTAX, "the quoted local part has no closing quote"},
    {"\"abc\"", 0, PB_E_SYNTAX,
     "the address has no '@' after the quoted local part"},
    {"\"abc\"x@example.com", 0, PB_E_SYNTAX,
     "the address has 'x' at position 6 where '@' should follow the quoted "
     "local part"},
    {"a@", 0, PB_E_SYNTAX, "the domain after '@' is empty"},
    {"a@b@example.com", 0, PB_E_SYNTAX,
     "the domain has a second '@' at position 4"},
    {"a@localhost", 0, PB_E_SYNTAX,
     "the domain has a single label; a mail domain has at least two "
     "(example.com), or is an address literal ([192.0.2.1])"},
    {"a@192.0.2.1", 0, PB_E_SYNTAX,
     "the domain ends in an all-numeric label; write an IP address as a "
     "literal ([192.0.2.1])"},
    {"a@.example.com", 0, PB_E_SYNTAX, "the domain starts with a dot"},
    {"a@example.com.", 0, PB_E_SYNTAX, "the domain ends with a dot"},
    {"a@example..com", 0, PB_E_SYNTAX,
     "the domain has two dots in a row at position 11"},
    {"a@-x.example", 0, PB_E_SYNTAX,
     "a domain label starts with a hyphen at position 3"},
    {"a@x-.example", 0, PB_E_SYNTAX,
     "a domain label ends with a hyphen at position 4"},
    {"a@x.example-", 0, PB_E_SYNTAX,
     "a domain label ends with a hyphen at position 12"},
    {"a@b_c.example", 0, PB_E_SYNTAX, "the domain has '_' at position 4"},
    {"a@example.com>", 0, PB_E_SYNTAX, "the domain has '>' at position 14"},
    {"a@exa mple.com", 0, PB_E_SYNTAX, "the domain has a space at position 6"},
    {"a@[192.0.2.1", 0, PB_E_SYNTAX, "the address literal has no closing ']'"},
    {"a@[192.0.2.1]x", 0, PB_E_SYNTAX,
     "the address has 'x' at position 14, after the address literal"},
    {"a@[]", 0, PB_E_SYNTAX, "the address literal [] is empty"},
    {"a@[192.0.2.256]", 0, PB_E_SYNTAX,
     "the address literal is not an IPv4 address (write [192.0.2.1], or "
     "[IPv6:2001:db8::1])"},
    {"a@[192.0.2]", 0, PB_E_SYNTAX,
     "the address literal is not an IPv4 address (write [192.0.2.1], or "
     "[IPv6:2001:db8::1])"},
    {"a@[1.2.3.4.5]", 0, PB_E_SYNTAX,
     "the address literal is not an IPv4 address (write [192.0.2.1], or "
     "[IPv6:2001:db8::1])"},
    {"a@[1234.0.0.1]", 0, PB_E_SYNTAX,
     "the address literal is not an IPv4 address (write [192.0.2.1], or "
     "[IPv6:2001:db8::1])"},
    {"a@[2001:db8::1]", 0, PB_E_SYNTAX,
     "the address literal is neither IPv4 nor tagged IPv6 (write "
     "[192.0.2.1] or [IPv6:2001:db8::1])"},
    {"a@[x-tag:foo]", 0, PB_E_SYNTAX,
     "the address literal is neither IPv4 nor tagged IPv6 (write "
     "[192.0.2.1] or [IPv6:2001:db8::1])"},
    {"a@[IPv6:2001:db8::g]", 0, PB_E_SYNTAX,
     "the address literal is not a valid IPv6 address"},
    {"a@[IPv6:1:2:3:4:5:6:7:8:9]", 0, PB_E_SYNTAX,
     "the address literal is not a valid IPv6 address"},
    {"a@[IPv6:]", 0, PB_E_SYNTAX,
     "the address literal is not a valid IPv6 address"},
};

ParameterizedTestParameters(pb_addr, refuses_invalid)
{
    return testdata_index_params(sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(size_t *ix, pb_addr, refuses_invalid)
{
    const struct bad_case *c = &bad[*ix];
    size_t len = c->len ? c->len : strlen(c->addr);
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(pb_addr_check(c->addr, len, &err), -1, "case %zu", *ix);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG, "case %zu", *ix);
    cr_assert_eq(err.code, c->code, "case %zu", *ix);
    cr_assert_str_eq(err.msg, c->msg, "case %zu: %s", *ix, err.msg);
}

Test(pb_addr, evidence_is_the_escaped_address)
{
    static const char a[] = "a@b.com>\r\nRCPT TO:<x@y>";
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), -1);
    cr_assert_str_eq(err.evidence, "a@b.com>\\r\\nRCPT TO:<x@y>");
}

/* the length is taken as given: no reading past it, no NUL needed */
Test(pb_addr, takes_the_length_not_the_nul)
{
    static const char a[] = "a@example.com>XXX";
    struct pb_err err;

    cr_assert_eq(pb_addr_check(a, 13, &err), 0);
    cr_assert_eq(pb_addr_check(a, 14, &err), -1);
    cr_assert_eq(pb_addr_check(NULL, 0, &err), -1);
}

Test(pb_addr, local_part_64_octets_and_one_over)
{
    char local[80], a[160];
    struct pb_err err;

    snprintf(a, sizeof(a), "%s@example.com", rep(local, 'x', 64));
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), 0, "%s", err.msg);
    snprintf(a, sizeof(a), "%s@example.com", rep(local, 'x', 65));
    pb_err_clear(&err);
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "the local part is 65 octets long, more than 64");
    /* quotes count toward the 64 */
    snprintf(a, sizeof(a), "\"%s\"@example.com", rep(local, 'x', 62));
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), 0, "%s", err.msg);
    snprintf(a, sizeof(a), "\"%s\"@example.com", rep(local, 'x', 63));
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), -1);
    cr_assert_str_eq(err.msg, "the local part is 65 octets long, more than 64");
}

Test(pb_addr, label_63_octets_and_one_over)
{
    char label[80], a[160];
    struct pb_err err;

    snprintf(a, sizeof(a), "a@%s.example", rep(label, 'l', 63));
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), 0, "%s", err.msg);
    snprintf(a, sizeof(a), "a@%s.example", rep(label, 'l', 64));
    pb_err_clear(&err);
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "the domain label at position 3 is 64 octets "
                              "long, more than 63");
}

/* "a@" + labels of 63 and dots making the domain exactly n octets */
static void
domain_of(char *dst, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t k = n - i > 63 ? 63 : n - i;

        if (i > 0) {
            dst[i++] = '.';
            k = n - i > 63 ? 63 : n - i;
        }
        memset(dst + i, 'd', k);
        i += k;
    }
    dst[n] = '\0';
}

Test(pb_addr, address_254_octets_and_one_over)
{
    char a[400], dom[300];
    struct pb_err err;

    /* 1 + 1 + 252 = 254: a domain of 252 octets (four labels) */
    domain_of(dom, 252);
    snprintf(a, sizeof(a), "a@%s", dom);
    cr_assert_eq(strlen(a), PB_LIMIT_MAILBOX);
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), 0, "%s", err.msg);
    cr_assert_str_eq(pb_addr_domain(a), dom);

    snprintf(a, sizeof(a), "ab@%s", dom);
    pb_err_clear(&err);
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "the address is 255 octets long, more than 254");

    /* a domain at 253 octets can only come with an address over 254 */
    domain_of(dom, 253);
    snprintf(a, sizeof(a), "a@%s", dom);
    cr_assert_eq(pb_addr_check(a, strlen(a), &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
}

Test(pb_addr, huge_hostile_input)
{
    static char a[70000];
    struct pb_err err;

    memset(a, 'a', sizeof(a));
    a[10] = '@';
    cr_assert_eq(pb_addr_check(a, sizeof(a), &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_lt(strlen(err.evidence), sizeof(err.evidence));
}

Test(pb_addr, every_byte_in_the_local_part)
{
    char a[16];
    struct pb_err err;
    int c;

    for (c = 0; c < 256; c++) {
        int rc;

        memcpy(a, "aXb@example.com", 15);
        a[1] = (char)c;
        pb_err_clear(&err);
        rc = pb_addr_check(a, 15, &err);
        if (c >= 0x80 || c < 0x20 || c == 0x7f || c == ' ' || c == '"' ||
            strchr("(),:;<>@[\\]", c) != NULL)
            cr_assert_eq(rc, -1, "byte 0x%02x", c);
        else
            cr_assert_eq(rc, 0, "byte 0x%02x: %s", c, err.msg);
        if (rc == -1 && c != '@')
            cr_assert(strstr(err.msg, "position 2") != NULL, "0x%02x: %s", c,
                      err.msg);
    }
}

Test(pb_addr, domain_after_last_at)
{
    cr_assert_str_eq(pb_addr_domain("a@example.com"), "example.com");
    cr_assert_str_eq(pb_addr_domain("\"a@b\"@example.com"), "example.com");
    cr_assert_str_eq(pb_addr_domain("a@[192.0.2.1]"), "[192.0.2.1]");
    cr_assert_str_eq(pb_addr_domain("a@"), "");
    cr_assert_null(pb_addr_domain("example.com"));
    cr_assert_null(pb_addr_domain(NULL));
}
