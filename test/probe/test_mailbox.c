/* SPDX-License-Identifier: MIT */
/*
 * The IMAP provider profiles (profiles/imap/), a seed's mailbox resolved
 * over them, and the egress address read from a copy's Received field.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox.h"
#include "seeds.h"
#include "testdata.h"
#include "verdict.h"

static char dir[64];

static void
setup(void)
{
    char sub[96];

    testdata_tmpdir(dir, sizeof(dir), "test_mailbox.");
    snprintf(sub, sizeof(sub), "%s/imap", dir);
    mkdir(sub, 0700);
    /* the user's directory comes first on the search path */
    setenv("PROBE_PROFILE_PATH", dir, 1);
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    unsetenv("PROBE_PROFILE_PATH");
}

TestSuite(mailbox, .init = setup, .fini = teardown);

Test(mailbox, shipped_profiles_load)
{
    static const char *const names[] = {"gmail",  "outlook",  "m365", "yahoo",
                                        "icloud", "fastmail", "zoho", "lab"};
    struct pb_err err;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct imap_profile *p = NULL;

        cr_assert_eq(imap_profile_load(names[i], &p, &err), 0, "%s: %s",
                     names[i], err.msg);
        cr_assert_not_null(p->url);
        cr_assert_gt(p->njunk, 0, "%s has no junk names", names[i]);
        cr_assert_gt(p->nauthserv_ids, 0, "%s has no authserv-ids", names[i]);
        imap_profile_free(p);
    }
}

Test(mailbox, profile_by_domain)
{
    struct imap_profiles *c = imap_profiles_new();
    const struct imap_profile *p = NULL, *again = NULL;
    struct pb_err err;

    cr_assert_eq(imap_profile_for_address(c, "x@GoogleMail.com", &p, &err), 0);
    cr_assert_str_eq(p->name, "gmail");
    /* loaded once: the same profile comes back */
    cr_assert_eq(imap_profiles_get(c, "gmail", &again, &err), 0);
    cr_assert_eq(again, p);
    cr_assert_eq(imap_profile_for_address(c, "x@example.org", &p, &err), 1);
    cr_assert_null(p);
    cr_assert_eq(imap_profiles_get(c, "nosuchprovider", &p, &err), 1);
    imap_profiles_free(c);
}

Test(mailbox, bad_profiles_are_refused)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"imap\": \"imaps://h.example\", \"junkk\": []}", "unknown key"},
        {"{\"junk\": [\"Spam\"]}", "`imap`"},
        {"{\"imap\": \"pop3://h.example\"}", "$.imap"},
        {"{\"imap\": \"imaps://h.example\", \"auth\": \"cram\"}", "login"},
        {"{\"imap\": \"imaps://h.example\", \"junk\": [\"\"]}", "non-empty"},
        {"{\"imap\": \"imaps://h.example\", \"junk\": \"Spam\"}", "array"},
        {"[1, 2]", "not a JSON object"},
        {"{\"imap\": \"imaps://h.example\", \"description\": \"a\\u0000b\"}",
         "\\u0000"},
    };
    char path[128];

    snprintf(path, sizeof(path), "%s/imap/bad.json", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct imap_profile *p = NULL;
        struct pb_err err;

        testdata_write_mode(path, cases[i].json, strlen(cases[i].json), 0644);
        pb_err_clear(&err);
        cr_assert_eq(imap_profile_load("bad", &p, &err), -1, "case %zu", i);
        cr_assert_null(p);
        cr_assert_not_null(strstr(err.msg, cases[i].want), "case %zu: %s", i,
                           err.msg);
    }
}

Test(mailbox, seed_over_profile)
{
    char path[128], line[512];
    struct seeds s = {0};
    struct mailbox m;
    struct imap_profiles *c = imap_profiles_new();
    struct pb_err err;

    snprintf(path, sizeof(path), "%s/pass", dir);
    testdata_write_mode(path, "s3cret\n", 7, 0600);
    snprintf(line, sizeof(line),
             "a@gmail.com imap=imaps://imap.gmail.com password_file=%s\n"
             "b@gmail.com imap=imap://mail.example.org:1143 user=b "
             "password_file=%s junk=Spam authserv_id=mx.example.org\n"
             "c@gmail.com\n",
             path, path);
    cr_assert_eq(seeds_parse(line, strlen(line), "seeds", &s, &err), 0, "%s",
                 err.msg);

    cr_assert_eq(mailbox_from_seed(&s.v[0], "seeds", NULL, c, &m, &err), 0,
                 "%s", err.msg);
    cr_assert_str_eq(m.host, "imap.gmail.com");
    cr_assert_eq(m.port, 993);
    cr_assert_eq(m.tls, IMAP_TLS_IMPLICIT);
    cr_assert_str_eq(m.user, "a@gmail.com");
    cr_assert_str_eq(m.inbox, "INBOX");
    cr_assert_null(m.junk);
    cr_assert_str_eq(m.junk_names[0], "[Gmail]/Spam");
    cr_assert_str_eq(m.authserv_ids[0], "mx.google.com");
    cr_assert_str_eq(secret_data(m.secret, NULL), "s3cret");
    mailbox_release(&m);

    cr_assert_eq(mailbox_from_seed(&s.v[1], "seeds", NULL, c, &m, &err), 0);
    cr_assert_eq(m.tls, IMAP_TLS_STARTTLS);
    cr_assert_eq(m.port, 1143);
    cr_assert_str_eq(m.junk, "Spam");
    cr_assert_eq(m.nauthserv_ids, 1);
    cr_assert_str_eq(m.authserv_ids[0], "mx.example.org");
    mailbox_release(&m);

    cr_assert_eq(mailbox_from_seed(&s.v[2], "seeds", NULL, c, &m, &err), 1);

    /* a password file others may read is refused, naming the seed */
    chmod(path, 0644);
    cr_assert_eq(mailbox_from_seed(&s.v[0], "seeds", NULL, c, &m, &err), -1);
    cr_assert_not_null(strstr(err.msg, "seeds:1"), "%s", err.msg);
    seeds_release(&s);
    imap_profiles_free(c);
}

Test(mailbox, received_ip)
{
    static const char hdr[] =
        "Return-Path: <a@b.example>\r\n"
        "Received: from out.relay.test (out.relay.test [127.0.1.12])\r\n"
        "\tby mx.gmail.test (Postfix) with ESMTPS id 4X;\r\n"
        "\tSat, 28 Nov 2026 08:00:00 +0000 (UTC)\r\n"
        "Received: from client ([192.0.2.7]) by out.relay.test;\r\n"
        " Sat, 28 Nov 2026 07:59:59 +0000\r\n"
        "\r\n"
        "body Received: from x ([10.0.0.1])\r\n";
    static const char v6[] =
        "Received: from h (h [IPv6:2001:db8::5]) by mx.example; now\n\n";
    static const char none[] = "Subject: no hops\r\n\r\n";
    static const char junk[] =
        "Received: from [999.1.1.1] (x [not-an-ip]) by mx; x\r\n\r\n";
    char ip[64], by[128];

    cr_assert_eq(verdict_received_ip(hdr, sizeof(hdr) - 1, ip, by, sizeof(by)),
                 0);
    cr_assert_str_eq(ip, "127.0.1.12");
    cr_assert_str_eq(by, "mx.gmail.test");
    cr_assert_eq(verdict_received_ip(v6, sizeof(v6) - 1, ip, NULL, 0), 0);
    cr_assert_str_eq(ip, "2001:db8::5");
    cr_assert_eq(verdict_received_ip(none, sizeof(none) - 1, ip, NULL, 0), -1);
    cr_assert_eq(verdict_received_ip(junk, sizeof(junk) - 1, ip, NULL, 0), -1);
}

Test(mailbox, auth_attribute)
{
    static const char line[] =
        "a@outlook.com imap=imaps://outlook.office365.com "
        "password_env=TEST_MAILBOX_TOKEN auth=xoauth2\n"
        "b@outlook.com imap=imaps://outlook.office365.com "
        "password_env=TEST_MAILBOX_TOKEN\n";
    static const char bad[] = "c@x.example imap=imaps://h.example "
                              "password_env=T auth=cram-md5\n";
    struct seeds s = {0};
    struct mailbox m;
    struct imap_profiles *c = imap_profiles_new();
    struct pb_err err;

    setenv("TEST_MAILBOX_TOKEN", "ya29.token", 1);
    cr_assert_eq(seeds_parse(line, strlen(line), "seeds", &s, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(mailbox_from_seed(&s.v[0], "seeds", NULL, c, &m, &err), 0);
    cr_assert_eq(m.auth, IMAP_AUTH_XOAUTH2);
    /* Exchange Online writes no authserv-id: the profile trusts "" */
    cr_assert_eq(m.nauthserv_ids, 1);
    cr_assert_str_eq(m.authserv_ids[0], "");
    cr_assert_str_eq(m.junk_names[0], "Junk Email");
    mailbox_release(&m);
    cr_assert_eq(mailbox_from_seed(&s.v[1], "seeds", NULL, c, &m, &err), 0);
    cr_assert_eq(m.auth, IMAP_AUTH_LOGIN);
    mailbox_release(&m);
    seeds_release(&s);
    cr_assert_eq(seeds_parse(bad, strlen(bad), "seeds", &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "`auth` must be"), "%s", err.msg);
    unsetenv("TEST_MAILBOX_TOKEN");
    imap_profiles_free(c);
}
