/* SPDX-License-Identifier: MIT */
/*
 * The seeds file (probe/seeds.c): every accepted form and default, every
 * refusal with its "FILE:LINE: reason" sentence, the limits at and one
 * over, hostile input (NUL, bare CR, binary, huge lines and files), the
 * files under test/data/seeds/, standard input, and --to lists.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb_limits.h"
#include "seeds.h"
#include "testdata.h"

/* Parse a string as the file "t.txt"; the test fails unless it parses. */
static void
parse_ok(const char *text, struct seeds *s)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(seeds_parse(text, strlen(text), "t.txt", s, &err), 0, "%s",
                 err.msg);
}

/* Parse (p, len) as "t.txt"; it must fail, with err filled in. */
static void
parse_bad(const char *p, size_t len, struct pb_err *err)
{
    struct seeds s;

    pb_err_clear(err);
    cr_assert_eq(seeds_parse(p, len, "t.txt", &s, err), -1);
    cr_assert_eq(s.n, 0);
    cr_assert_null(s.v);
    cr_assert_eq(err->stage, PB_STAGE_CONFIG);
}

/* ------------------------------------------------------------------ */
/* accepted forms                                                      */

Test(seeds, bare_address_is_send_only)
{
    struct seeds s;
    const struct seed *d;

    parse_ok("alice@gmail.example\n", &s);
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.source, "t.txt");
    d = &s.v[0];
    cr_assert_str_eq(d->address, "alice@gmail.example");
    cr_assert_eq(d->line, 1);
    cr_assert_null(d->imap_url);
    cr_assert_null(d->imap_host);
    cr_assert_eq(d->imap_port, 0);
    cr_assert_null(d->user);
    cr_assert_null(d->inbox);
    cr_assert_null(d->junk);
    cr_assert_null(d->provider);
    seeds_release(&s);
    cr_assert_null(s.v);
    cr_assert_eq(s.n, 0);
    seeds_release(&s);
    seeds_release(NULL);
}

Test(seeds, every_attribute)
{
    struct seeds s;
    const struct seed *d;

    parse_ok("seed@gmail.test  imap=imaps://imap.gmail.test:993  "
             "address=127.0.1.20  user=seed@gmail.test  "
             "password_file=/tmp/probe-lab/secrets/seed-gmail.pass  "
             "ca_file=/tmp/probe-lab/tls/ca.crt  provider=gmail  "
             "authserv_id=mx.gmail.test  inbox=INBOX  junk=Junk "
             "insecure=false\n",
             &s);
    d = &s.v[0];
    cr_assert_str_eq(d->address, "seed@gmail.test");
    cr_assert_str_eq(d->imap_url, "imaps://imap.gmail.test:993");
    cr_assert_str_eq(d->imap_host, "imap.gmail.test");
    cr_assert_eq(d->imap_port, 993);
    cr_assert(d->imap_tls);
    cr_assert_str_eq(d->connect_address, "127.0.1.20");
    cr_assert_str_eq(d->user, "seed@gmail.test");
    cr_assert_null(d->password_env);
    cr_assert_str_eq(d->password_file,
                     "/tmp/probe-lab/secrets/seed-gmail.pass");
    cr_assert_str_eq(d->ca_file, "/tmp/probe-lab/tls/ca.crt");
    cr_assert_not(d->insecure);
    cr_assert_str_eq(d->inbox, "INBOX");
    cr_assert_str_eq(d->junk, "Junk");
    cr_assert_str_eq(d->provider, "gmail");
    cr_assert_str_eq(d->authserv_id, "mx.gmail.test");
    seeds_release(&s);
}

Test(seeds, imap_defaults)
{
    struct seeds s;

    parse_ok("a@example.com imap=imap://imap.example.com password_env=A\n"
             "b@example.com imap=imaps://imap.example.com password_env=B\n"
             "c@example.com imap=IMAPS://Imap.Example.Com/ password_env=C "
             "insecure=true\n",
             &s);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.v[0].imap_port, 143);
    cr_assert_not(s.v[0].imap_tls);
    cr_assert_str_eq(s.v[0].user, "a@example.com");
    cr_assert_str_eq(s.v[0].inbox, "INBOX");
    cr_assert_null(s.v[0].junk);
    cr_assert_null(s.v[0].connect_address);
    cr_assert_str_eq(s.v[0].password_env, "A");
    cr_assert_eq(s.v[1].imap_port, 993);
    cr_assert(s.v[1].imap_tls);
    cr_assert_eq(s.v[2].imap_port, 993);
    cr_assert(s.v[2].imap_tls);
    cr_assert_str_eq(s.v[2].imap_host, "Imap.Example.Com");
    cr_assert(s.v[2].insecure);
    seeds_release(&s);
}

Test(seeds, imap_hosts_and_ports)
{
    struct seeds s;

    parse_ok("a@example.com imap=imaps://[::1]:1993 password_env=P\n"
             "b@example.com imap=imap://127.0.0.1:1 password_env=P\n"
             "c@example.com imap=imaps://localhost:65535 password_env=P\n"
             "d@example.com imap=imaps://[2001:db8::1] password_env=P "
             "address=2001:db8::2\n",
             &s);
    cr_assert_str_eq(s.v[0].imap_host, "::1");
    cr_assert_eq(s.v[0].imap_port, 1993);
    cr_assert_str_eq(s.v[1].imap_host, "127.0.0.1");
    cr_assert_eq(s.v[1].imap_port, 1);
    cr_assert_str_eq(s.v[2].imap_host, "localhost");
    cr_assert_eq(s.v[2].imap_port, 65535);
    cr_assert_str_eq(s.v[3].imap_host, "2001:db8::1");
    cr_assert_eq(s.v[3].imap_port, 993);
    cr_assert_str_eq(s.v[3].connect_address, "2001:db8::2");
    seeds_release(&s);
}

Test(seeds, quoted_values_and_escapes)
{
    struct seeds s;

    parse_ok("q@example.com imap=imaps://imap.example.com "
             "password_file=\"/etc/probe/seed pass\" "
             "junk=\"Junk \\\"E-mail\\\" \\\\ old\" inbox=\"\tTab\" "
             "user=\"DOMAIN\\\\seed\" provider=\"Yahoo\"\n",
             &s);
    cr_assert_str_eq(s.v[0].password_file, "/etc/probe/seed pass");
    cr_assert_str_eq(s.v[0].junk, "Junk \"E-mail\" \\ old");
    cr_assert_str_eq(s.v[0].inbox, "\tTab");
    cr_assert_str_eq(s.v[0].user, "DOMAIN\\seed");
    cr_assert_str_eq(s.v[0].provider, "yahoo");
    seeds_release(&s);
}

Test(seeds, unquoted_values_keep_hash_and_backslash)
{
    struct seeds s;

    parse_ok("q@example.com imap=imaps://imap.example.com password_env=P "
             "junk=[Gmail]/Spam#1 user=DOMAIN\\seed\n",
             &s);
    cr_assert_str_eq(s.v[0].junk, "[Gmail]/Spam#1");
    cr_assert_str_eq(s.v[0].user, "DOMAIN\\seed");
    seeds_release(&s);
}

Test(seeds, comments_and_blank_lines)
{
    struct seeds s;

    parse_ok("# a comment\n"
             "\n"
             "   \t  \n"
             "  # an indented comment\n"
             "a@example.com # after the address\n"
             "b@example.com imap=imaps://x.example password_env=P "
             "junk=\"Junk # not a comment\" # after a quoted value\n"
             "c@example.com provider=gmail #comment\n"
             "\"x # y\"@example.com\n"
             "d#e@example.com\n",
             &s);
    cr_assert_eq(s.n, 5);
    cr_assert_eq(s.v[0].line, 5);
    cr_assert_str_eq(s.v[1].junk, "Junk # not a comment");
    cr_assert_eq(s.v[1].line, 6);
    seeds_release(&s);
    /* '#' inside a word is the word's: here it makes provider invalid */
    {
        static const char t[] = "c@example.com provider=gm#ail\n";
        struct pb_err err;

        parse_bad(t, sizeof(t) - 1, &err);
        cr_assert_str_eq(err.msg,
                         "t.txt:1: `provider` must be one word (letters, "
                         "digits, '-', '_', '.'), not `gm#ail` (column 24)");
    }
}

Test(seeds, quoted_local_part_with_spaces)
{
    struct seeds s;

    parse_ok("\"first last\"@example.com provider=x\n"
             "\"a\\\" b\"@example.com\n",
             &s);
    cr_assert_str_eq(s.v[0].address, "\"first last\"@example.com");
    cr_assert_str_eq(s.v[0].provider, "x");
    cr_assert_str_eq(s.v[1].address, "\"a\\\" b\"@example.com");
    seeds_release(&s);
}

Test(seeds, crlf_bom_tabs_and_no_final_newline)
{
    static const char t[] =
        "\xef\xbb\xbf# BOM\r\n\r\na@example.com\r\n"
        "\tb@example.com\timap=imap://x.example:1143\tpassword_env=P\r\n"
        "c@example.com";
    struct seeds s;
    struct pb_err err;

    cr_assert_eq(seeds_parse(t, sizeof(t) - 1, "t.txt", &s, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.v[0].address, "a@example.com");
    cr_assert_eq(s.v[0].line, 3);
    cr_assert_str_eq(s.v[1].password_env, "P");
    cr_assert_eq(s.v[1].imap_port, 1143);
    cr_assert_str_eq(s.v[2].address, "c@example.com");
    cr_assert_eq(s.v[2].line, 5);
    seeds_release(&s);
}

Test(seeds, utf8_in_comments_and_folders)
{
    struct seeds s;

    parse_ok("# Testpostfächer\n"
             "a@example.com imap=imaps://x.example password_env=P "
             "junk=\"Courrier indésirable\"\n",
             &s);
    cr_assert_str_eq(s.v[0].junk, "Courrier indésirable");
    seeds_release(&s);
}

Test(seeds, authserv_id_forms)
{
    struct seeds s;

    parse_ok("a@example.com imap=imaps://x.example password_env=P "
             "authserv_id=mx.google.com\n"
             "b@example.com imap=imaps://x.example password_env=P "
             "authserv_id=*.yahoo.com\n",
             &s);
    cr_assert_str_eq(s.v[0].authserv_id, "mx.google.com");
    cr_assert_str_eq(s.v[1].authserv_id, "*.yahoo.com");
    seeds_release(&s);
}

Test(seeds, name_defaults_and_escapes)
{
    static const char t[] = "a@@example.com\n";
    struct seeds s;
    struct pb_err err;

    cr_assert_eq(seeds_parse("a@example.com", 13, NULL, &s, &err), 0);
    cr_assert_str_eq(s.source, "seeds");
    seeds_release(&s);
    cr_assert_eq(seeds_parse(t, sizeof(t) - 1, "bad\nname", &s, &err), -1);
    cr_assert(strncmp(err.msg, "bad\\nname:1: ", 13) == 0, "%s", err.msg);
}

/* ------------------------------------------------------------------ */
/* refusals: each line as "t.txt", the whole message                   */

struct bad_case {
    const char *text;
    enum pb_code code;
    const char *msg;
};

#define IMAP "a@example.com imap=imaps://x.example password_env=P "

static const struct bad_case bad[] = {
    {"a@example.com imapp=imaps://x.example\n", PB_E_SYNTAX,
     "t.txt:1: unknown attribute `imapp`; did you mean `imap`? (column 15)"},
    {"a@example.com IMAP=imaps://x.example\n", PB_E_SYNTAX,
     "t.txt:1: unknown attribute `IMAP`; did you mean `imap`? (column 15)"},
    {"a@example.com colour=blue\n", PB_E_SYNTAX,
     "t.txt:1: unknown attribute `colour` (see docs/seeds.md for the "
     "attributes) (column 15)"},
    {"a@example.com password_fil=/p\n", PB_E_SYNTAX,
     "t.txt:1: unknown attribute `password_fil`; did you mean "
     "`password_file`? (column 15)"},
    {"a@example.com oauth2_token=abc\n", PB_E_SYNTAX,
     "t.txt:1: `oauth2_token`: secrets never go in the seeds file; give "
     "password_env=NAME or password_file=PATH (column 15)"},
    {IMAP "user=a user=b\n", PB_E_SYNTAX,
     "t.txt:1: `user` is given twice, first at column 53 (column 60)"},
    {"a@example.com imap imaps://x.example\n", PB_E_SYNTAX,
     "t.txt:1: `imap` needs a value: write imap=VALUE, with no space around "
     "'=' (column 15)"},
    {"a@example.com imap = imaps://x.example\n", PB_E_SYNTAX,
     "t.txt:1: `imap` needs a value: write imap=VALUE, with no space around "
     "'=' (column 15)"},
    {"a@example.com =x\n", PB_E_SYNTAX,
     "t.txt:1: '=' without a key before it (no space around '=') "
     "(column 15)"},
    {"a@example.com gmail\n", PB_E_SYNTAX,
     "t.txt:1: expected key=value after the address, found `gmail` "
     "(column 15)"},
    {"a@example.com b@example.com\n", PB_E_SYNTAX,
     "t.txt:1: `b@example.com` looks like a second address; give one seed "
     "per line (column 15)"},
    {"a@example.com user=\n", PB_E_SYNTAX,
     "t.txt:1: `user` has an empty value (column 20)"},
    {"a@example.com junk=\"\"\n", PB_E_SYNTAX,
     "t.txt:1: `junk` has an empty value (column 20)"},
    {IMAP "junk=\"Junk\n", PB_E_SYNTAX,
     "t.txt:1: the quoted value of `junk` has no closing quote (column 58)"},
    {IMAP "junk=\"Ju\\nk\"\n", PB_E_SYNTAX,
     "t.txt:1: a backslash in a quoted value escapes only \" and \\ (write "
     "\\\\ for a backslash) (column 61)"},
    {IMAP "junk=\"Junk\"x\n", PB_E_SYNTAX,
     "t.txt:1: a space must follow the closing quote of `junk` (column 64)"},
    {IMAP "junk=Ju\"nk\"\n", PB_E_SYNTAX,
     "t.txt:1: a quote inside the value of `junk`; quote the whole value: "
     "junk=\"...\" (column 60)"},
    {"a@example.com imap=pop3://x.example password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: `imap` must be an imaps:// (TLS) or imap:// (STARTTLS) URL, "
     "not `pop3://x.example` (column 20)"},
    {"a@example.com imap=imap.gmail.com password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: `imap` must be a URL: imaps://imap.gmail.com (TLS) or "
     "imap://imap.gmail.com (STARTTLS) (column 20)"},
    {"a@example.com imap=imaps://x.example/INBOX password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL has a path, query or fragment; give only "
     "imaps://HOST[:PORT] and name folders with inbox= and junk= "
     "(column 20)"},
    {"a@example.com imap=imaps://x.example?x password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL has a path, query or fragment; give only "
     "imaps://HOST[:PORT] and name folders with inbox= and junk= "
     "(column 20)"},
    {"a@example.com imap=imaps://me@x.example password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL names a user; give it as user=, and the "
     "password as password_env= or password_file= (column 20)"},
    {"a@example.com imap=imaps://me;AUTH=*@x.example password_env=P\n",
     PB_E_SYNTAX,
     "t.txt:1: the `imap` URL names a user; give it as user=, and the "
     "password as password_env= or password_file= (column 20)"},
    {"a@example.com imap=imaps:// password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL has no host (column 20)"},
    {"a@example.com imap=imaps://:993 password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL has no host (column 20)"},
    {"a@example.com imap=imaps://x_y.example password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL host `x_y.example` is neither a host name nor "
     "an IP address (column 20)"},
    {"a@example.com imap=imaps://x.example. password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL host `x.example.` is neither a host name nor "
     "an IP address (column 20)"},
    {"a@example.com imap=imaps://1.2.3.999 password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL host `1.2.3.999` is neither a host name nor "
     "an IP address (column 20)"},
    {"a@example.com imap=imaps://[::g] password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL host [::g] is not an IPv6 address (column 20)"},
    {"a@example.com imap=imaps://[::1 password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL has '[' without ']' (column 20)"},
    {"a@example.com imap=imaps://[::1]x password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL has text after ']' (column 20)"},
    {"a@example.com imap=imaps://x.example:0 password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL port `0` is not a number from 1 to 65535 "
     "(column 20)"},
    {"a@example.com imap=imaps://x.example:65536 password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL port `65536` is not a number from 1 to 65535 "
     "(column 20)"},
    {"a@example.com imap=imaps://x.example:9999999999 password_env=P\n",
     PB_E_SYNTAX,
     "t.txt:1: the `imap` URL port `9999999999` is not a number from 1 to "
     "65535 (column 20)"},
    {"a@example.com imap=imaps://x.example: password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL port `` is not a number from 1 to 65535 "
     "(column 20)"},
    {"a@example.com imap=imaps://x.example:99a password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL port `99a` is not a number from 1 to 65535 "
     "(column 20)"},
    {"a@example.com imap=imaps://x.example:-1 password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: the `imap` URL port `-1` is not a number from 1 to 65535 "
     "(column 20)"},
    {IMAP "password_file=/p\n", PB_E_SYNTAX,
     "t.txt:1: give either password_env or password_file, not both "
     "(column 53)"},
    {"a@example.com imap=imaps://x.example user=me\n", PB_E_SYNTAX,
     "t.txt:1: imap= needs the password: add password_env=NAME or "
     "password_file=PATH (column 15)"},
    {"a@example.com user=me\n", PB_E_SYNTAX,
     "t.txt:1: `user` is for reading the seed's mailbox and needs imap=URL "
     "(column 15)"},
    {"a@example.com provider=gmail junk=Spam\n", PB_E_SYNTAX,
     "t.txt:1: `junk` is for reading the seed's mailbox and needs imap=URL "
     "(column 30)"},
    {"a@example.com authserv_id=mx.google.com\n", PB_E_SYNTAX,
     "t.txt:1: `authserv_id` is for reading the seed's mailbox and needs "
     "imap=URL (column 15)"},
    {"a@example.com password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: `password_env` is for reading the seed's mailbox and needs "
     "imap=URL (column 15)"},
    {IMAP "junk=Sp\x01"
          "am\n",
     PB_E_SYNTAX, "t.txt:1: the control character 0x01 (column 60)"},
    {IMAP "junk=\"Sp\x1b[0m\"\n", PB_E_SYNTAX,
     "t.txt:1: the control character 0x1b (column 61)"},
    {IMAP "junk=Spam\x7f\n", PB_E_SYNTAX,
     "t.txt:1: the control character 0x7f (column 62)"},
    {"a@example.com\rb@example.com\n", PB_E_SYNTAX,
     "t.txt:1: a carriage return (CR) inside the line; lines end with LF or "
     "CRLF (column 14)"},
    {"a@example.com\r\r\n", PB_E_SYNTAX,
     "t.txt:1: a carriage return (CR) inside the line; lines end with LF or "
     "CRLF (column 14)"},
    {"# caf\xe9\n", PB_E_SYNTAX,
     "t.txt:1: a byte 0xe9 that is not UTF-8 (is this a text file?) "
     "(column 6)"},
    {"# \xed\xa0\x80 surrogate\n", PB_E_SYNTAX,
     "t.txt:1: a byte 0xed that is not UTF-8 (is this a text file?) "
     "(column 3)"},
    {"# \xc0\xaf overlong\n", PB_E_SYNTAX,
     "t.txt:1: a byte 0xc0 that is not UTF-8 (is this a text file?) "
     "(column 3)"},
    {IMAP "insecure=yes\n", PB_E_SYNTAX,
     "t.txt:1: `insecure` must be true or false, not `yes` (column 62)"},
    {IMAP "address=imap.example.com\n", PB_E_SYNTAX,
     "t.txt:1: `address` must be an IP address to connect to (192.0.2.1 or "
     "2001:db8::1, no brackets), not `imap.example.com` (column 61)"},
    {IMAP "address=[::1]\n", PB_E_SYNTAX,
     "t.txt:1: `address` must be an IP address to connect to (192.0.2.1 or "
     "2001:db8::1, no brackets), not `[::1]` (column 61)"},
    {"a@example.com imap=imaps://x.example password_env=1PASS\n", PB_E_SYNTAX,
     "t.txt:1: `password_env` must name an environment variable (letters, "
     "digits, '_'), not `1PASS` (column 51)"},
    {"a@example.com imap=imaps://x.example password_env=MY-PASS\n", PB_E_SYNTAX,
     "t.txt:1: `password_env` must name an environment variable (letters, "
     "digits, '_'), not `MY-PASS` (column 51)"},
    {"a@example.com provider=\"g mail\"\n", PB_E_SYNTAX,
     "t.txt:1: `provider` must be one word (letters, digits, '-', '_', '.'), "
     "not `g mail` (column 24)"},
    {IMAP "authserv_id=mx.google.com;\n", PB_E_SYNTAX,
     "t.txt:1: `authserv_id` must be a name like mx.google.com or "
     "*.yahoo.com, not `mx.google.com;` (column 65)"},
    {IMAP "authserv_id=*\n", PB_E_SYNTAX,
     "t.txt:1: `authserv_id` must be a name like mx.google.com or "
     "*.yahoo.com, not `*` (column 65)"},
    {IMAP "authserv_id=a.*.com\n", PB_E_SYNTAX,
     "t.txt:1: `authserv_id` must be a name like mx.google.com or "
     "*.yahoo.com, not `a.*.com` (column 65)"},
    {IMAP "insecure=true ca_file=/ca.crt\n", PB_E_SYNTAX,
     "t.txt:1: ca_file is ignored with insecure=true; give one of them "
     "(column 67)"},
    {IMAP "junk=INBOX\n", PB_E_SYNTAX,
     "t.txt:1: junk names the same folder as inbox (column 53)"},
    {IMAP "inbox=Mail junk=Mail\n", PB_E_SYNTAX,
     "t.txt:1: junk names the same folder as inbox (column 64)"},
    {"imap=imaps://x.example password_env=P\n", PB_E_SYNTAX,
     "t.txt:1: a line starts with the seed's address, not "
     "`imap=imaps://x.example` (column 1)"},
    {"a..b@example.com\n", PB_E_SYNTAX,
     "t.txt:1: bad address `a..b@example.com`: the local part has two dots "
     "in a row at position 3"},
    {"john smith@example.com\n", PB_E_SYNTAX,
     "t.txt:1: bad address `john`: the address has no '@' (expected "
     "local-part@domain)"},
    {"<a@example.com>\n", PB_E_SYNTAX,
     "t.txt:1: bad address `<a@example.com>`: the address starts with '<'; "
     "give it without angle brackets"},
    {"a@b.com>\r\nRCPT TO:<x@y>\r\n", PB_E_SYNTAX,
     "t.txt:1: bad address `a@b.com>`: the domain has '>' at position 8"},
    {"a@example.com\nb@example.com\nA@EXAMPLE.COM\n", PB_E_SYNTAX,
     "t.txt:3: A@EXAMPLE.COM is already listed at line 1 (as a@example.com; "
     "case does not make another mailbox)"},
    {"", PB_E_SYNTAX, "no seeds in t.txt (only blank lines and comments)"},
    {"\xef\xbb\xbf", PB_E_SYNTAX,
     "no seeds in t.txt (only blank lines and comments)"},
    {"# only\n\n  \t\r\n", PB_E_SYNTAX,
     "no seeds in t.txt (only blank lines and comments)"},
};

ParameterizedTestParameters(seeds, refuses_bad_lines)
{
    return testdata_index_params(sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(size_t *ix, seeds, refuses_bad_lines)
{
    const struct bad_case *c = &bad[*ix];
    struct pb_err err;

    parse_bad(c->text, strlen(c->text), &err);
    cr_assert_eq(err.code, c->code, "case %zu: %s", *ix, err.msg);
    cr_assert_str_eq(err.msg, c->msg, "case %zu: %s", *ix, err.msg);
}

Test(seeds, duplicate_address_names_both_lines)
{
    static const char t[] = "# x\nseed@x.example\n\nseed@x.example\n";
    struct pb_err err;

    parse_bad(t, sizeof(t) - 1, &err);
    cr_assert_str_eq(err.msg,
                     "t.txt:4: seed@x.example is already listed at line 2");
    cr_assert_str_eq(err.evidence, "seed@x.example");
}

Test(seeds, evidence_is_the_escaped_line)
{
    static const char t[] = "ok@example.com\n a@example.com\tjunk=\x01\n";
    struct pb_err err;

    parse_bad(t, sizeof(t) - 1, &err);
    cr_assert_str_eq(err.evidence, " a@example.com\\tjunk=\\x01");
}

Test(seeds, secret_values_are_redacted)
{
    static const char t[] =
        "a@example.com imap=imaps://x.example password=hunter2 user=x\n";
    struct pb_err err;

    parse_bad(t, sizeof(t) - 1, &err);
    cr_assert_str_eq(err.msg,
                     "t.txt:1: `password`: secrets never go in the seeds "
                     "file; give password_env=NAME or password_file=PATH "
                     "(column 38)");
    cr_assert_str_eq(
        err.evidence,
        "a@example.com imap=imaps://x.example password=[redacted]");
    cr_assert_null(strstr(err.msg, "hunter2"));

    /* a near miss of a known key still hides its value */
    parse_bad("a@example.com passwd_env=hunter2\n", 33, &err);
    cr_assert_str_eq(err.msg, "t.txt:1: unknown attribute `passwd_env`; did "
                              "you mean `password_env`? (column 15)");
    cr_assert_str_eq(err.evidence, "a@example.com passwd_env=[redacted]");
}

Test(seeds, nul_byte)
{
    static const char t[] = "ok@example.com\nseed@exa\0mple.com\n";
    struct pb_err err;

    parse_bad(t, sizeof(t) - 1, &err);
    cr_assert_str_eq(err.msg, "t.txt:2: a NUL byte (column 9)");
    cr_assert_str_eq(err.evidence, "seed@exa\\x00mple.com");
}

/* ------------------------------------------------------------------ */
/* limits                                                              */

Test(seeds, line_at_limit_and_one_over)
{
    size_t n = PB_LIMIT_SEEDS_LINE;
    char *t = malloc(n + 2);
    struct seeds s;
    struct pb_err err;

    memcpy(t, "a@example.com #", 15);
    memset(t + 15, 'x', n - 15);
    t[n] = '\n';
    cr_assert_eq(seeds_parse(t, n + 1, "t.txt", &s, &err), 0, "%s", err.msg);
    seeds_release(&s);
    /* CRLF does not count toward the line */
    t[n] = '\r';
    t[n + 1] = '\n';
    cr_assert_eq(seeds_parse(t, n + 2, "t.txt", &s, &err), 0, "%s", err.msg);
    seeds_release(&s);
    t[n] = 'x';
    parse_bad(t, n + 1, &err);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "t.txt:1: the line is longer than 4096 octets");
    free(t);
}

Test(seeds, hostile_5000_octet_line)
{
    char t[5100];
    struct pb_err err;

    memset(t, 'a', sizeof(t));
    memcpy(t, "ok@example.com\n", 15);
    t[sizeof(t) - 1] = '\n';
    parse_bad(t, sizeof(t), &err);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "t.txt:2: the line is longer than 4096 octets");
    cr_assert_lt(strlen(err.evidence), sizeof(err.evidence));
}

/* n seeds "sN@example.com", one a line */
static char *
many_seeds(size_t n, size_t *len)
{
    char *t = malloc(n * 24 + 1), *p = t;
    size_t i;

    for (i = 0; i < n; i++)
        p += sprintf(p, "s%zu@example.com\n", i);
    *len = (size_t)(p - t);
    return t;
}

Test(seeds, ten_thousand_seeds_and_one_more)
{
    struct seeds s;
    struct pb_err err;
    size_t len;
    char *t = many_seeds(PB_LIMIT_SEEDS, &len);

    cr_assert_eq(seeds_parse(t, len, "t.txt", &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.n, PB_LIMIT_SEEDS);
    cr_assert_str_eq(s.v[PB_LIMIT_SEEDS - 1].address, "s9999@example.com");
    seeds_release(&s);
    free(t);

    t = many_seeds(PB_LIMIT_SEEDS + 1, &len);
    parse_bad(t, len, &err);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "t.txt:10001: more than 10000 seeds");
    free(t);
}

Test(seeds, duplicate_among_many)
{
    struct pb_err err;
    size_t len;
    char *t = many_seeds(9000, &len);

    t = realloc(t, len + 32);
    len += (size_t)sprintf(t + len, "S4321@Example.COM\n");
    parse_bad(t, len, &err);
    cr_assert_str_eq(err.msg,
                     "t.txt:9001: S4321@Example.COM is already listed at "
                     "line 4322 (as s4321@example.com; case does not make "
                     "another mailbox)");
    free(t);
}

Test(seeds, file_size_at_limit_and_one_over)
{
    size_t n = PB_LIMIT_SEEDS_FILE, i;
    char *t = malloc(n + 1);
    struct seeds s;
    struct pb_err err;

    /* a seed and then comment lines of 100 octets up to exactly n */
    memcpy(t, "a@example.com\n", 14);
    for (i = 14; i < n; i++)
        t[i] = (i - 14) % 100 == 0 ? '#' : (i - 14) % 100 == 99 ? '\n' : 'c';
    cr_assert_eq(seeds_parse(t, n, "t.txt", &s, &err), 0, "%s", err.msg);
    seeds_release(&s);
    t[n] = '\n';
    parse_bad(t, n + 1, &err);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_str_eq(err.msg, "t.txt: larger than 1048576 octets, the limit "
                              "for a seeds file");
    free(t);
}

/* Binary garbage of every kind: refused or accepted, never a crash. */
Test(seeds, binary_garbage)
{
    unsigned char t[2048];
    uint32_t x = 2463534242u;
    struct seeds s;
    struct pb_err err;
    int round;
    size_t i;

    for (round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 2048);

        for (i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            /* half the rounds mostly text, to reach the attribute code */
            t[i] = round % 2 ? (unsigned char)x
                             : (unsigned char)" @.=\"#\nabx:/[]1\\\t"[x % 18];
        }
        pb_err_clear(&err);
        if (seeds_parse((const char *)t, len, "t.txt", &s, &err) == 0) {
            cr_assert_gt(s.n, 0);
            seeds_release(&s);
        } else {
            cr_assert_neq(err.msg[0], '\0');
            cr_assert_eq(s.n, 0);
        }
    }
}

/* ------------------------------------------------------------------ */
/* files under test/data/seeds                                         */

struct file_case {
    const char *file;
    enum pb_code code;
    const char *tail; /* the message after the file name */
};

static const struct file_case bad_files[] = {
    {"unknown-key.txt", PB_E_SYNTAX,
     ":3: unknown attribute `junkk`; did you mean `junk`? (column 63)"},
    {"duplicate-key.txt", PB_E_SYNTAX,
     ":3: `user` is given twice, first at column 48 (column 55)"},
    {"missing-equals.txt", PB_E_SYNTAX,
     ":3: `imap` needs a value: write imap=VALUE, with no space around '=' "
     "(column 18)"},
    {"bad-url.txt", PB_E_SYNTAX,
     ":3: `imap` must be an imaps:// (TLS) or imap:// (STARTTLS) URL, not "
     "`pop3://pop.example.com` (column 23)"},
    {"bad-port.txt", PB_E_SYNTAX,
     ":3: the `imap` URL port `99999` is not a number from 1 to 65535 "
     "(column 23)"},
    {"both-passwords.txt", PB_E_SYNTAX,
     ":3: give either password_env or password_file, not both (column 63)"},
    {"no-password.txt", PB_E_SYNTAX,
     ":3: imap= needs the password: add password_env=NAME or "
     "password_file=PATH (column 18)"},
    {"imap-attr-without-imap.txt", PB_E_SYNTAX,
     ":3: `user` is for reading the seed's mailbox and needs imap=URL "
     "(column 18)"},
    {"control-char.txt", PB_E_SYNTAX,
     ":3: the control character 0x01 (column 70)"},
    {"duplicate-address.txt", PB_E_SYNTAX,
     ":6: SEED@example.com is already listed at line 4 (as "
     "seed@example.com; case does not make another mailbox)"},
    {"bad-address.txt", PB_E_SYNTAX,
     ":3: bad address `a..b@example.com`: the local part has two dots in a "
     "row at position 3"},
    {"crlf-injection.txt", PB_E_SYNTAX,
     ":1: bad address `a@b.com>`: the domain has '>' at position 8"},
    {"long-line.txt", PB_E_LIMIT, ":3: the line is longer than 4096 octets"},
    {"nul.txt", PB_E_SYNTAX, ":3: a NUL byte (column 9)"},
    {"binary.bin", PB_E_SYNTAX,
     ":1: a byte 0x89 that is not UTF-8 (is this a text file?) (column 1)"},
    {"secret.txt", PB_E_SYNTAX,
     ":3: `password`: secrets never go in the seeds file; give "
     "password_env=NAME or password_file=PATH (column 48)"},
    {"unterminated-quote.txt", PB_E_SYNTAX,
     ":3: the quoted value of `junk` has no closing quote (column 68)"},
};

ParameterizedTestParameters(seeds, refuses_bad_files)
{
    return testdata_index_params(sizeof(bad_files) / sizeof(bad_files[0]));
}

ParameterizedTest(size_t *ix, seeds, refuses_bad_files)
{
    const struct file_case *c = &bad_files[*ix];
    char rel[128], want[512];
    const char *path;
    struct seeds s;
    struct pb_err err;

    snprintf(rel, sizeof(rel), "seeds/bad/%s", c->file);
    path = testdata_path(rel);
    pb_err_clear(&err);
    cr_assert_eq(seeds_load(path, &s, &err), -1, "%s", c->file);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG);
    cr_assert_eq(err.code, c->code, "%s: %s", c->file, err.msg);
    if (strlen(path) <= 100) {
        snprintf(want, sizeof(want), "%s%s", path, c->tail);
        cr_assert_str_eq(err.msg, want);
    } else {
        cr_assert_not_null(strstr(err.msg, c->tail), "%s", err.msg);
    }
    cr_assert_null(strstr(err.evidence, "hunter2"));
}

Test(seeds, empty_files_have_no_seeds)
{
    const char *files[] = {"seeds/bad/empty.txt",
                           "seeds/bad/comments-only.txt"};
    char want[512];
    struct seeds s;
    struct pb_err err;
    size_t i;

    for (i = 0; i < 2; i++) {
        const char *path = testdata_path(files[i]);

        cr_assert_eq(seeds_load(path, &s, &err), -1);
        snprintf(want, sizeof(want),
                 "no seeds in %s (only blank lines and comments)", path);
        if (strlen(path) <= 100)
            cr_assert_str_eq(err.msg, want);
    }
}

Test(seeds, good_files)
{
    static const struct {
        const char *file;
        size_t n;
    } files[] = {
        {"seeds/good/campaign.txt", 3},
        {"seeds/good/crlf-bom.txt", 3},
        {"seeds/good/providers.txt", 4},
        {"seeds/good/quoted.txt", 1},
    };
    struct seeds s;
    struct pb_err err;
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        const char *path = testdata_path(files[i].file);

        pb_err_clear(&err);
        cr_assert_eq(seeds_load(path, &s, &err), 0, "%s: %s", files[i].file,
                     err.msg);
        cr_assert_eq(s.n, files[i].n, "%s", files[i].file);
        cr_assert_str_eq(s.source, path);
        seeds_release(&s);
    }
}

Test(seeds, campaign_file_as_documented)
{
    struct seeds s;
    struct pb_err err;

    cr_assert_eq(seeds_load(testdata_path("seeds/good/campaign.txt"), &s, &err),
                 0);
    cr_assert_str_eq(s.v[0].address, "alice@gmail.example");
    cr_assert_null(s.v[0].imap_url);
    cr_assert_str_eq(s.v[1].connect_address, "127.0.1.20");
    cr_assert_str_eq(s.v[1].authserv_id, "mx.gmail.test");
    cr_assert_str_eq(s.v[2].imap_host, "outlook.office365.com");
    cr_assert_eq(s.v[2].imap_port, 993);
    cr_assert_str_eq(s.v[2].password_env, "SEED_BOB_PASS");
    cr_assert_str_eq(s.v[2].junk, "Junk Email");
    cr_assert_eq(s.v[2].line, 4);
    seeds_release(&s);
}

Test(seeds, unreadable_files)
{
    struct seeds s;
    struct pb_err err;

    cr_assert_eq(seeds_load("/nonexistent/seeds.txt", &s, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_str_eq(err.msg, "/nonexistent/seeds.txt: cannot open: No such "
                              "file or directory");
    cr_assert_eq(seeds_load(testdata_path("seeds"), &s, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, ": cannot read: Is a directory"));
}

Test(seeds, file_over_the_limit_is_not_read_whole)
{
    char path[] = "/tmp/test_seeds_XXXXXX";
    int fd = mkstemp(path);
    char block[65536];
    struct seeds s;
    struct pb_err err;
    int i;

    cr_assert_neq(fd, -1);
    memset(block, '\n', sizeof(block));
    for (i = 0; i < 64; i++) /* 4 MiB of blank lines */
        cr_assert_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
    close(fd);
    cr_assert_eq(seeds_load(path, &s, &err), -1);
    unlink(path);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_not_null(strstr(err.msg, ": larger than 1048576 octets"));
}

Test(seeds, long_file_name_keeps_its_end)
{
    char name[400];
    struct seeds s;
    struct pb_err err;

    memset(name, 'd', sizeof(name));
    memcpy(name + sizeof(name) - 10, "/seeds.txt", 10);
    name[sizeof(name) - 1] = '\0';
    cr_assert_eq(seeds_parse("x", 1, name, &s, &err), -1);
    cr_assert(strncmp(err.msg, "...ddd", 6) == 0, "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "/seeds.tx:1: bad address `x`"), "%s",
                       err.msg);
}

Test(seeds, reads_stdin)
{
    int fd = open(testdata_path("seeds/good/crlf-bom.txt"), O_RDONLY);
    struct seeds s;
    struct pb_err err;

    cr_assert_neq(fd, -1);
    cr_assert_neq(dup2(fd, STDIN_FILENO), -1);
    close(fd);
    cr_assert_eq(seeds_load("-", &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.source, "<stdin>");
    seeds_release(&s);
}

Test(seeds, stdin_errors_say_stdin)
{
    int fd = open(testdata_path("seeds/bad/nul.txt"), O_RDONLY);
    struct seeds s;
    struct pb_err err;

    cr_assert_neq(fd, -1);
    cr_assert_neq(dup2(fd, STDIN_FILENO), -1);
    close(fd);
    cr_assert_eq(seeds_load("-", &s, &err), -1);
    cr_assert_str_eq(err.msg, "<stdin>:3: a NUL byte (column 9)");
}

/* ------------------------------------------------------------------ */
/* --to lists                                                          */

Test(seeds, list_of_addresses)
{
    struct seeds s;
    struct pb_err err;

    cr_assert_eq(seeds_from_list("a@x.example, b@y.example ,\"c,d\"@z.example",
                                 &s, &err),
                 0, "%s", err.msg);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.source, "--to");
    cr_assert_str_eq(s.v[0].address, "a@x.example");
    cr_assert_str_eq(s.v[1].address, "b@y.example");
    cr_assert_str_eq(s.v[2].address, "\"c,d\"@z.example");
    cr_assert_eq(s.v[2].line, 3);
    cr_assert_null(s.v[2].imap_url);
    seeds_release(&s);
    cr_assert_eq(seeds_from_list("one@x.example", &s, &err), 0);
    cr_assert_eq(s.n, 1);
    seeds_release(&s);
}

static const struct {
    const char *arg;
    const char *msg;
} bad_lists[] = {
    {"", "--to: address 1 of the list is empty"},
    {"a@x.example,", "--to: address 2 of the list is empty"},
    {"a@x.example,,b@x.example", "--to: address 2 of the list is empty"},
    {" , a@x.example", "--to: address 1 of the list is empty"},
    {"a@x.example,b@@x.example",
     "--to: bad address `b@@x.example`: the domain has a second '@' at "
     "position 3"},
    {"a@x.example>\r\nRCPT TO:<y@x.example>",
     "--to: bad address `a@x.example>\\r\\nRCPT TO:<y@x.example>`: the "
     "address has a carriage return (CR) at position 13"},
    {"a@x.example,b@x.example,A@X.example",
     "--to: A@X.example is given twice (addresses 1 and 3)"},
    {"a@x.example imap=imaps://x",
     "--to: bad address `a@x.example imap=imaps://x`: the domain has a space "
     "at position 12"},
};

ParameterizedTestParameters(seeds, refuses_bad_lists)
{
    return testdata_index_params(sizeof(bad_lists) / sizeof(bad_lists[0]));
}

ParameterizedTest(size_t *ix, seeds, refuses_bad_lists)
{
    struct seeds s;
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(seeds_from_list(bad_lists[*ix].arg, &s, &err), -1);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(err.stage, PB_STAGE_USAGE);
    cr_assert_eq(err.code, PB_E_USAGE);
    cr_assert_str_eq(err.msg, bad_lists[*ix].msg, "case %zu", *ix);
}

Test(seeds, list_limit)
{
    size_t n = PB_LIMIT_SEEDS + 1, i;
    char *arg = malloc(n * 24), *p = arg;
    struct seeds s;
    struct pb_err err;

    for (i = 0; i < n; i++)
        p += sprintf(p, "%ss%zu@example.com", i ? "," : "", i);
    cr_assert_eq(seeds_from_list(arg, &s, &err), -1);
    cr_assert_str_eq(err.msg, "--to: more than 10000 addresses");
    *strrchr(arg, ',') = '\0';
    cr_assert_eq(seeds_from_list(arg, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(s.n, PB_LIMIT_SEEDS);
    seeds_release(&s);
    free(arg);
}
