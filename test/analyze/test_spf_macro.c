/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "pb_limits.h"
#include "spf_int.h"

static struct spf_macro_ctx
ctx4(void)
{
    struct spf_macro_ctx m;

    memset(&m, 0, sizeof(m));
    m.sender = "strong-bad@email.example.com";
    m.local = "strong-bad";
    m.sender_domain = "email.example.com";
    m.domain = "email.example.com";
    m.helo = "mx.example.org";
    m.now = 1234567890;
    ipaddr_parse("192.0.2.3", &m.ip);
    return m;
}

static char *
expand(const struct spf_macro_ctx *m, const char *s, bool is_exp)
{
    struct pb_buf b;
    const char *why = NULL;

    pb_buf_init(&b, PB_LIMIT_SPF_EXPANSION);
    cr_assert_eq(spf_macro_expand(m, s, strlen(s), is_exp, &b, &why), 0,
                 "%s: %s", s, why);
    return pb_buf_take(&b, NULL);
}

/* The examples of RFC 7208 §7.4, with the RFC's own inputs. */
Test(spf_macro, rfc7208_section_7_4_examples)
{
    struct spf_macro_ctx m = ctx4();
    static const char *const cases[][2] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
         "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
         "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net",
         "example.com.trusted-domains.example.net"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = expand(&m, cases[i][0], false);

        cr_expect_str_eq(got, cases[i][1], "%s", cases[i][0]);
        free(got);
    }
}

Test(spf_macro, ipv6_nibbles_and_exp_letters)
{
    struct spf_macro_ctx m = ctx4();
    char *got;

    ipaddr_parse("2001:db8::cb01", &m.ip);
    got = expand(&m, "%{ir}.%{v}._spf.%{d2}", false);
    cr_assert_str_eq(got, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                          "8.b.d.0.1.0.0.2.ip6._spf.example.com");
    free(got);
    got = expand(&m, "%{c} at %{t} via %{r}", true);
    cr_assert_str_eq(got, "2001:db8::cb01 at 1234567890 via unknown");
    free(got);
}

Test(spf_macro, escapes_and_url_encoding)
{
    struct spf_macro_ctx m = ctx4();
    char *got;

    got = expand(&m, "%%%_%-", false);
    cr_assert_str_eq(got, "% %20");
    free(got);
    m.local = "a b/c~d";
    got = expand(&m, "%{L}", false);
    cr_assert_str_eq(got, "a%20b%2Fc~d");
    free(got);
}

Test(spf_macro, syntax_errors_are_reported)
{
    const char *bad[] = {"%",     "%x",    "%{",  "%{s",  "%{q}",
                         "%{s0}", "%{sX}", "a b", "%{c}", "\x80"};
    struct pb_buf b;

    pb_buf_init(&b, 64);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;

        cr_assert_eq(
            spf_macro_expand(NULL, bad[i], strlen(bad[i]), false, &b, &why), -1,
            "accepted %s", bad[i]);
        cr_assert_not_null(why);
    }
    pb_buf_release(&b);
}

Test(spf_macro, huge_digit_transformer_keeps_everything)
{
    struct spf_macro_ctx m = ctx4();
    char *got = expand(&m, "%{d99999999999999999999}", false);

    cr_assert_str_eq(got, "email.example.com");
    free(got);
}

Test(spf_macro, expansion_stays_within_its_limit)
{
    struct spf_macro_ctx m = ctx4();
    char big[PB_LIMIT_SPF_EXPANSION + 2];
    struct pb_buf b;
    const char *why = NULL;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    m.local = big;
    pb_buf_init(&b, PB_LIMIT_SPF_EXPANSION);
    cr_assert_eq(spf_macro_expand(&m, "%{l}", 4, false, &b, &why), -1);
    pb_buf_release(&b);
}

Test(spf_macro, domain_truncated_from_the_left_to_253)
{
    struct spf_macro_ctx m = ctx4();
    char local[200], *out = NULL;
    const char *why;

    memset(local, 'x', sizeof(local) - 1);
    local[sizeof(local) - 1] = '\0';
    for (size_t i = 10; i < sizeof(local) - 1; i += 10)
        local[i] = '.';
    m.local = local;
    cr_assert_eq(spf_macro_domain(&m, "%{l}.%{l}.example.com", &out, &why), 0);
    cr_assert_leq(strlen(out), 253);
    cr_assert(strlen(out) > 200);
    cr_assert_neq(out[0], '.');
    cr_assert(strstr(out, ".example.com") != NULL);
    free(out);
    cr_assert_eq(spf_macro_domain(&m, "%{d}.", &out, &why), 0);
    cr_assert_str_eq(out, "email.example.com", "one trailing dot dropped");
    free(out);
}

Test(spf_macro, domain_end_rules)
{
    cr_assert(spf_macro_domain_end_ok("a.example.com", 13));
    cr_assert(spf_macro_domain_end_ok("a.example.com.", 14));
    cr_assert(spf_macro_domain_end_ok("%{d}", 4));
    cr_assert(spf_macro_domain_end_ok("x.123-456", 9));
    cr_assert_not(spf_macro_domain_end_ok("example", 7));
    cr_assert_not(spf_macro_domain_end_ok("1.2.3.4", 7));
    cr_assert_not(spf_macro_domain_end_ok("x.-abc", 6));
    cr_assert_not(spf_macro_domain_end_ok("x.abc-", 6));
    cr_assert_not(spf_macro_domain_end_ok("x.%{d}com", 9));
}
