/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "pb_limits.h"
#include "spf_int.h"

static int
parse(const char *s, struct spf_record *rec, char *why)
{
    return spf_record_parse(s, strlen(s), rec, why, 256);
}

Test(spf_record, parses_every_mechanism_and_modifier)
{
    struct spf_record rec;
    char why[256];
    const char *s = "v=spf1 +all -include:_spf.example.net ~a ?a:x.example/24"
                    "//64 mx mx:m.example//48 ptr ptr:p.example "
                    "ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.x.example "
                    "redirect=r.example exp=e.example foo=bar";

    cr_assert_eq(parse(s, &rec, why), 0, "%s", why);
    cr_assert_eq(rec.nterms, 14);
    cr_assert_eq(rec.terms[0].kind, SPF_K_ALL);
    cr_assert_eq(rec.terms[1].qual, SPF_FAIL);
    cr_assert_str_eq(rec.terms[1].spec, "_spf.example.net");
    cr_assert_eq(rec.terms[2].qual, SPF_SOFTFAIL);
    cr_assert_null(rec.terms[2].spec);
    cr_assert_eq(rec.terms[3].qual, SPF_NEUTRAL);
    cr_assert_eq(rec.terms[3].cidr4, 24);
    cr_assert_eq(rec.terms[3].cidr6, 64);
    cr_assert_str_eq(rec.terms[3].spec, "x.example");
    cr_assert_eq(rec.terms[5].cidr4, 32);
    cr_assert_eq(rec.terms[5].cidr6, 48);
    cr_assert_eq(rec.terms[8].kind, SPF_K_IP4);
    cr_assert_eq(rec.terms[8].cidr4, 24);
    cr_assert_eq(rec.terms[9].kind, SPF_K_IP6);
    cr_assert_eq(rec.terms[9].cidr6, 32);
    cr_assert_eq(rec.redirect, 11);
    cr_assert_eq(rec.exp, 12);
    cr_assert_eq(rec.terms[13].kind, SPF_K_MODIFIER);
    spf_record_release(&rec);
}

Test(spf_record, version_must_end_in_space_or_end)
{
    cr_assert(spf_record_is_spf1("v=spf1", 6));
    cr_assert(spf_record_is_spf1("V=SPF1 -all", 11));
    cr_assert_not(spf_record_is_spf1("v=spf10", 7));
    cr_assert_not(spf_record_is_spf1("v=spf1-all", 10));
    cr_assert_not(spf_record_is_spf1("v=spf", 5));
}

struct bad {
    char rec[96];
};

ParameterizedTestParameters(spf_record, rejects_malformed)
{
    static struct bad cases[] = {
        {"v=spf1 all:x.example"},
        {"v=spf1 all/8"},
        {"v=spf1 include"},
        {"v=spf1 include:"},
        {"v=spf1 include:x.example/24"},
        {"v=spf1 a:1.2.3.4"},
        {"v=spf1 a:example"},
        {"v=spf1 a:x.-bad"},
        {"v=spf1 a/33"},
        {"v=spf1 a//129"},
        {"v=spf1 a/024"},
        {"v=spf1 a:x.example/"},
        {"v=spf1 ip4:1.2.3.4/33"},
        {"v=spf1 ip4:1.2.3"},
        {"v=spf1 ip4:01.2.3.4"},
        {"v=spf1 ip4:1.2.3.4//32"},
        {"v=spf1 ip4:1.2.3.4:25"},
        {"v=spf1 ip6:1.2.3.4"},
        {"v=spf1 ip6:::1/129"},
        {"v=spf1 ip6"},
        {"v=spf1 ptr/24"},
        {"v=spf1 exists"},
        {"v=spf1 exists:x.example/24"},
        {"v=spf1 -redirect=x.example"},
        {"v=spf1 redirect=x.example "
         "redirect=y.example"},
        {"v=spf1 exp=a.example exp=b.example"},
        {"v=spf1 =foo"},
        {"v=spf1 1foo=bar"},
        {"v=spf1 foo=%"},
        {"v=spf1 a:%{x}.example"},
        {"v=spf1 a:%{d0}.example"},
        {"v=spf1 a:%{c}.example"},
        {"v=spf1 a:%x.example"},
        {"v=spf1 a:%{d.example"},
        {"v=spf1 mx:x.example\r-all"},
        {"v=spf1 \x80"
         "a"},
        {"v=spf1 unknown"},
        {"v=spf1 redirect="},
    };

    return cr_make_param_array(struct bad, cases,
                               sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad *c, spf_record, rejects_malformed)
{
    struct spf_record rec;
    char why[256] = "";

    cr_assert_eq(parse(c->rec, &rec, why), -1, "accepted \"%s\"", c->rec);
    cr_assert_neq(why[0], '\0');
}

Test(spf_record, accepts_odd_but_valid_syntax)
{
    const char *good[] = {
        "v=spf1",
        "v=spf1 ",
        "v=spf1  a   -all  ",
        "v=spf1 a:abc.123-456",
        "v=spf1 a:foo:bar/baz.example.com",
        "v=spf1 a:example.com.",
        "v=spf1 exists:%{l1r+-}.%{d}",
        "v=spf1 a:%{d}",
        "v=spf1 a/0//0",
        "v=spf1 ip6:::ffff:1.2.3.4/128",
        "v=spf1 x-y_z.w=%{d}",
        "v=spf1 exists:%%%_%-.example.org",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct spf_record rec;
        char why[256];

        cr_assert_eq(parse(good[i], &rec, why), 0, "\"%s\": %s", good[i], why);
        spf_record_release(&rec);
    }
}

Test(spf_record, limits_terms_and_length)
{
    struct spf_record rec;
    char why[256];
    size_t n = 6 + 2 * PB_LIMIT_SPF_TERMS, i;
    char *s = malloc(n + 3);

    memcpy(s, "v=spf1", 6);
    for (i = 0; i < PB_LIMIT_SPF_TERMS; i++)
        memcpy(s + 6 + 2 * i, " a", 2);
    cr_assert_eq(spf_record_parse(s, n, &rec, why, sizeof(why)), 0,
                 "exactly at the term limit: %s", why);
    spf_record_release(&rec);
    memcpy(s + n, " a", 2);
    cr_assert_eq(spf_record_parse(s, n + 2, &rec, why, sizeof(why)), -1,
                 "one term over the limit");
    free(s);
    s = calloc(1, PB_LIMIT_SPF_RECORD + 2);
    memcpy(s, "v=spf1", 6);
    memset(s + 6, ' ', PB_LIMIT_SPF_RECORD - 6);
    cr_assert_eq(
        spf_record_parse(s, PB_LIMIT_SPF_RECORD, &rec, why, sizeof(why)), 0);
    spf_record_release(&rec);
    s[PB_LIMIT_SPF_RECORD] = ' ';
    cr_assert_eq(
        spf_record_parse(s, PB_LIMIT_SPF_RECORD + 1, &rec, why, sizeof(why)),
        -1);
    free(s);
}

Test(spf_record, nul_byte_is_not_a_separator)
{
    struct spf_record rec;
    char why[256];
    static const char s[] = "v=spf1 a:x.example\0 -all";

    cr_assert_eq(spf_record_parse(s, sizeof(s) - 1, &rec, why, sizeof(why)),
                 -1);
    cr_assert(strstr(why, "0x00") != NULL, "%s", why);
}
