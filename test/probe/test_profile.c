/* SPDX-License-Identifier: MIT */
/*
 * Relay profiles (probe/profile.c): the shipped profiles/ load and say what
 * profiles/SCHEMA.md promises; every refused file of test/data/profiles/bad
 * is refused with its JSON path and reason; --set, variables, URL specs
 * and the search path.  Each test runs in its own process, so the
 * environment variables it sets stay with it.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile.h"
#include "testdata.h"

static char tmpdir[64];

/* A clean environment: no user profile directories, no PROBE_* values. */
static void
setup(void)
{
    static const char *const unset[] = {
        "PROBE_PROFILE_PATH", "PROBE_HELO",          "PROBE_SMTP_USER",
        "PROBE_SMTP_HOST",    "PROBE_OAUTH2_TENANT", "PROBE_M365_TENANT",
        "PROBE_LAB_DIR",      "PROBE_TEST_SITE",     "PROBE_TEST_USER",
    };
    size_t i;

    testdata_tmpdir(tmpdir, sizeof(tmpdir), "pbpf");
    for (i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
        unsetenv(unset[i]);
    setenv("XDG_CONFIG_HOME", tmpdir, 1); /* empty: nothing found there */
}

static void
teardown(void)
{
    testdata_rm_rf(tmpdir);
}

TestSuite(profile, .init = setup, .fini = teardown);

static struct profile *
load_ok(const char *spec, const char *const *sets, size_t nsets)
{
    struct profile *p = NULL;
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(profile_load(spec, sets, nsets, &p, &err), 0, "%s: %s", spec,
                 err.msg);
    cr_assert_not_null(p);
    return p;
}

/* Load spec, expect a failure with code whose message holds want. */
static void
load_fails(const char *spec, const char *const *sets, size_t nsets,
           enum pb_code code, const char *want)
{
    struct profile *p = NULL;
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(profile_load(spec, sets, nsets, &p, &err), -1,
                 "%s loaded, expected: %s", spec, want);
    cr_assert_null(p);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG, "%s: stage %d", spec, err.stage);
    cr_assert_eq(err.code, code, "%s: code %s, expected %s: %s", spec,
                 pb_code_name(err.code), pb_code_name(code), err.msg);
    cr_assert_not_null(strstr(err.msg, want), "%s: \"%s\" lacks \"%s\"", spec,
                       err.msg, want);
}

static const char *
shipped(const char *name)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/%s.json", profile_builtin_dir(), name);
    return path;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* ------------------------------------------------------------------ */
/* The shipped profiles                                                */

Test(profile, gmail_is_the_ip_registered_relay_without_auth)
{
    struct profile *p = load_ok("gmail", NULL, 0);

    cr_assert_str_eq(p->host, "smtp-relay.gmail.com");
    cr_assert_eq(p->port, 587);
    cr_assert_eq(p->tls, SMTP_TLS_STARTTLS);
    cr_assert_eq(p->auth, SMTP_AUTH_NONE);
    cr_assert_null(p->helo, "no PROBE_HELO: the engine's FQDN");
    cr_assert_null(p->user);
    cr_assert_gt(p->nnotes, 0);
    cr_assert_not_null(strstr(p->notes[0], "https://"), "notes cite sources");
    cr_assert_eq(p->nwarnings, 0);
    cr_assert_str_eq(p->path, shipped("gmail"));
    profile_free(p);
}

Test(profile, gmail_takes_helo_from_env_and_auth_from_set)
{
    const char *sets[] = {"user=probe@example.com",
                          "password_env=PROBE_SMTP_PASSWORD"};
    struct profile *p;

    setenv("PROBE_HELO", "relay1.example.com", 1);
    p = load_ok("gmail", sets, 2);
    cr_assert_str_eq(p->helo, "relay1.example.com");
    cr_assert_eq(p->auth, SMTP_AUTH_AUTO);
    cr_assert_str_eq(p->user, "probe@example.com");
    cr_assert_str_eq(p->password_env, "PROBE_SMTP_PASSWORD");
    profile_free(p);
    load_fails("gmail", sets, 1, PB_E_SYNTAX,
               "$.auth: auto needs password_env or password_file");
}

Test(profile, gmail_submission_needs_its_user)
{
    const char *sets[] = {"user=me@gmail.com"};
    struct profile *p;

    load_fails("gmail-submission", NULL, 0, PB_E_SYNTAX,
               "gmail-submission: variable user is required: --set "
               "user=VALUE (the Google account");
    p = load_ok("gmail-submission", sets, 1);
    cr_assert_str_eq(p->host, "smtp.gmail.com");
    cr_assert_eq(p->port, 587);
    cr_assert_eq(p->auth, SMTP_AUTH_AUTO);
    cr_assert_str_eq(p->user, "me@gmail.com");
    cr_assert_str_eq(p->password_env, "PROBE_SMTP_PASSWORD");
    cr_assert_str_eq(p->vars[0].from, "--set");
    profile_free(p);
    setenv("PROBE_SMTP_USER", "env@gmail.com", 1);
    p = load_ok("gmail-submission", NULL, 0);
    cr_assert_str_eq(p->user, "env@gmail.com");
    cr_assert_str_eq(p->vars[0].from, "env");
    profile_free(p);
    p = load_ok("gmail-submission", sets, 1); /* --set beats the env */
    cr_assert_str_eq(p->user, "me@gmail.com");
    profile_free(p);
}

Test(profile, m365_is_xoauth2_with_the_tenant_in_the_token_url)
{
    const char *sets[] = {"user=probe@contoso.com",
                          "tenant_id=contoso.onmicrosoft.com"};
    struct profile *p = load_ok("m365", sets, 1);
    const struct profile_oauth2 *o = &p->oauth2;

    cr_assert_str_eq(p->host, "smtp.office365.com");
    cr_assert_eq(p->port, 587);
    cr_assert_eq(p->tls, SMTP_TLS_STARTTLS);
    cr_assert_eq(p->auth, SMTP_AUTH_XOAUTH2);
    cr_assert(p->has_oauth2);
    cr_assert_str_eq(
        o->token_url,
        "https://login.microsoftonline.com/common/oauth2/v2.0/token");
    cr_assert_str_eq(o->scope,
                     "https://outlook.office.com/SMTP.Send offline_access");
    cr_assert_str_eq(o->client_id_env, "PROBE_OAUTH2_CLIENT_ID");
    cr_assert_str_eq(o->client_secret_env, "PROBE_OAUTH2_CLIENT_SECRET");
    cr_assert_str_eq(o->refresh_token_env, "PROBE_OAUTH2_REFRESH_TOKEN");
    cr_assert_null(p->password_env);
    profile_free(p);
    p = load_ok("m365", sets, 2);
    cr_assert_str_eq(p->oauth2.token_url,
                     "https://login.microsoftonline.com/"
                     "contoso.onmicrosoft.com/oauth2/v2.0/token");
    profile_free(p);
    load_fails("m365", NULL, 0, PB_E_SYNTAX, "variable user is required");
}

Test(profile, m365_connector_names_the_mx_host_prefix)
{
    const char *sets[] = {"tenant=contoso-com"};
    struct profile *p;

    load_fails("m365-connector", NULL, 0, PB_E_SYNTAX,
               "m365-connector: variable tenant is required: --set "
               "tenant=VALUE (the part of your MX host before "
               ".mail.protection.outlook.com");
    p = load_ok("m365-connector", sets, 1);
    cr_assert_str_eq(p->host, "contoso-com.mail.protection.outlook.com");
    cr_assert_eq(p->port, 25);
    cr_assert_eq(p->tls, SMTP_TLS_STARTTLS);
    cr_assert_eq(p->auth, SMTP_AUTH_NONE);
    profile_free(p);
}

Test(profile, generic_logs_in_only_with_a_user)
{
    const char *sets[] = {"host=mail.example.net", "user=probe"};
    struct profile *p;

    load_fails("generic", NULL, 0, PB_E_SYNTAX, "variable host is required");
    p = load_ok("generic", sets, 1);
    cr_assert_str_eq(p->host, "mail.example.net");
    cr_assert_eq(p->port, 587);
    cr_assert_eq(p->auth, SMTP_AUTH_NONE, "auto without a user: no AUTH");
    cr_assert_null(p->user);
    profile_free(p);
    p = load_ok("generic", sets, 2);
    cr_assert_eq(p->auth, SMTP_AUTH_AUTO);
    cr_assert_str_eq(p->user, "probe");
    cr_assert_str_eq(p->password_env, "PROBE_SMTP_PASSWORD");
    profile_free(p);
}

Test(profile, lab_points_at_the_lab_directory)
{
    const char *sets[] = {"lab_dir=/srv/lab"};
    struct profile *p = load_ok("lab", NULL, 0);

    cr_assert_str_eq(p->host, "smtp.relay.test");
    cr_assert_str_eq(p->address, "127.0.1.10");
    cr_assert_eq(p->port, 587);
    cr_assert_eq(p->tls, SMTP_TLS_STARTTLS);
    cr_assert_eq(p->auth, SMTP_AUTH_AUTO);
    cr_assert_str_eq(p->user, "probe@good.test");
    cr_assert_str_eq(p->ca_file, "/tmp/probe-lab/tls/ca.crt");
    cr_assert_str_eq(p->password_file, "/tmp/probe-lab/secrets/relay.pass");
    cr_assert_str_eq(p->vars[0].from, "default");
    profile_free(p);
    setenv("PROBE_LAB_DIR", "/var/tmp/lab2", 1);
    p = load_ok("lab", NULL, 0);
    cr_assert_str_eq(p->ca_file, "/var/tmp/lab2/tls/ca.crt");
    profile_free(p);
    p = load_ok("lab", sets, 1);
    cr_assert_str_eq(p->password_file, "/srv/lab/secrets/relay.pass");
    profile_free(p);
}

Test(profile, empty_set_clears_a_variable)
{
    const char *clear[] = {"helo="};
    const char *req[] = {"tenant="};
    struct profile *p;

    setenv("PROBE_HELO", "relay1.example.com", 1);
    p = load_ok("gmail", clear, 1);
    cr_assert_null(p->helo, "cleared: not the env's value");
    cr_assert_null(p->vars[0].value);
    profile_free(p);
    load_fails("m365-connector", req, 1, PB_E_SYNTAX,
               "variable tenant is required");
}

Test(profile, lab_allowlist_sends_from_the_registered_client)
{
    struct profile *p = load_ok("lab-allowlist", NULL, 0);
    struct smtp_relay r;

    cr_assert_str_eq(p->host, "smtp-relay.relay.test");
    cr_assert_str_eq(p->address, "127.0.1.11");
    cr_assert_eq(p->port, 25);
    cr_assert_eq(p->tls, SMTP_TLS_STARTTLS);
    cr_assert_eq(p->auth, SMTP_AUTH_NONE);
    cr_assert_str_eq(p->source_address, "127.0.1.40");
    cr_assert_str_eq(p->helo, "app.client.test");
    profile_relay(p, NULL, &r);
    cr_assert_str_eq(r.host, "smtp-relay.relay.test");
    cr_assert_str_eq(r.address, "127.0.1.11");
    cr_assert_str_eq(r.source, "127.0.1.40");
    cr_assert_str_eq(r.helo, "app.client.test");
    cr_assert_str_eq(r.ca_file, "/tmp/probe-lab/tls/ca.crt");
    cr_assert_eq(r.port, 25);
    cr_assert_null(r.user);
    cr_assert_null(r.secret);
    profile_free(p);
}

/* What each shipped profile needs to load; a new file must be added. */
static const struct {
    const char *name;
    const char *set;
} shipped_profiles[] = {
    {"generic", "host=mail.example.net"},
    {"gmail", NULL},
    {"gmail-submission", "user=me@gmail.com"},
    {"lab", NULL},
    {"lab-allowlist", NULL},
    {"m365", "user=me@contoso.com"},
    {"m365-connector", "tenant=contoso-com"},
};

Test(profile, every_shipped_profile_loads_and_is_tested)
{
    DIR *d = opendir(profile_builtin_dir());
    struct dirent *e;
    size_t i, n = 0;

    cr_assert_not_null(d, "%s", profile_builtin_dir());
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        bool is_known = false;

        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        n++;
        for (i = 0; i < sizeof(shipped_profiles) / sizeof(shipped_profiles[0]);
             i++) {
            char name[128];

            snprintf(name, sizeof(name), "%s.json", shipped_profiles[i].name);
            is_known |= strcmp(name, e->d_name) == 0;
        }
        cr_assert(is_known, "profiles/%s is not in shipped_profiles[]",
                  e->d_name);
    }
    closedir(d);
    cr_assert_eq(n, sizeof(shipped_profiles) / sizeof(shipped_profiles[0]));
    for (i = 0; i < n; i++) {
        const char *set = shipped_profiles[i].set;
        struct profile *p =
            load_ok(shipped_profiles[i].name, &set, set != NULL ? 1 : 0);
        struct smtp_relay r;

        cr_assert_not_null(p->description, "%s", p->name);
        cr_assert_gt(p->nnotes, 0, "%s has no notes", p->name);
        cr_assert_eq(p->nwarnings, 0, "%s: %s", p->name,
                     p->nwarnings ? p->warnings[0] : "");
        cr_assert(!p->insecure);
        profile_relay(p, "x", &r);
        cr_assert_eq(r.port, p->port);
        cr_assert_eq(r.auth, p->auth);
        cr_assert_str_eq(r.secret, "x");
        profile_free(p);
    }
}

/* ------------------------------------------------------------------ */
/* Good files                                                          */

Test(profile, minimal_file_takes_the_defaults)
{
    struct profile *p =
        load_ok(testdata_path("profiles/good/minimal.json"), NULL, 0);

    cr_assert_str_eq(p->host, "smtp.example.com");
    cr_assert_eq(p->port, 587);
    cr_assert_eq(p->tls, SMTP_TLS_STARTTLS);
    cr_assert_eq(p->auth, SMTP_AUTH_NONE);
    cr_assert_eq(p->parallel, 0);
    cr_assert_eq(p->timeouts.connect_ms, 0);
    cr_assert_null(p->address);
    profile_free(p);
}

Test(profile, port_follows_tls)
{
    struct profile *p;

    p = load_ok(testdata_path("profiles/good/implicit-tls.json"), NULL, 0);
    cr_assert_eq(p->tls, SMTP_TLS_IMPLICIT);
    cr_assert_eq(p->port, 465);
    profile_free(p);
    p = load_ok(testdata_path("profiles/good/plain-text.json"), NULL, 0);
    cr_assert_eq(p->tls, SMTP_TLS_NONE);
    cr_assert_eq(p->port, 25);
    cr_assert_eq(p->nwarnings, 0, "no AUTH, nothing to leak");
    profile_free(p);
}

Test(profile, full_file_substitutes_every_string)
{
    struct profile *p =
        load_ok(testdata_path("profiles/good/full.json"), NULL, 0);

    cr_assert_str_eq(p->description, "Every field at once {literally} for "
                                     "example.org");
    cr_assert_eq(p->nnotes, 2);
    cr_assert_str_eq(p->notes[0], "from example.org");
    cr_assert_str_eq(p->notes[1], "braces: { and }");
    cr_assert_str_eq(p->host, "smtp.example.org");
    cr_assert_str_eq(p->address, "192.0.2.25");
    cr_assert_eq(p->port, 2525);
    cr_assert_str_eq(p->ca_file, "/etc/ssl/example.org.pem");
    cr_assert_str_eq(p->helo, "client.example.org");
    cr_assert_str_eq(p->source_address, "2001:db8::25");
    cr_assert_eq(p->auth, SMTP_AUTH_LOGIN);
    cr_assert_str_eq(p->user, "probe@example.org");
    cr_assert_str_eq(p->password_file, "/run/secrets/example.org.pass");
    cr_assert_eq(p->timeouts.connect_ms, 5000);
    cr_assert_eq(p->timeouts.greeting_ms, 30500);
    cr_assert_eq(p->timeouts.command_ms, 250);
    cr_assert_eq(p->timeouts.data_ms, 3600000);
    cr_assert_eq(p->parallel, 8);
    cr_assert_eq(p->nvars, 2);
    cr_assert_str_eq(p->vars[0].name, "site");
    cr_assert_str_eq(p->vars[0].value, "example.org");
    cr_assert_null(p->vars[1].value);
    profile_free(p);
    setenv("PROBE_TEST_SITE", "example.net", 1);
    p = load_ok(testdata_path("profiles/good/full.json"), NULL, 0);
    cr_assert_str_eq(p->host, "smtp.example.net", "env beats the default");
    profile_free(p);
}

Test(profile, optional_variable_without_value_leaves_the_field_unset)
{
    struct profile *p =
        load_ok(testdata_path("profiles/good/optional-unset.json"), NULL, 0);

    cr_assert_null(p->helo);
    profile_free(p);
}

Test(profile, oauth2_from_files)
{
    struct profile *p =
        load_ok(testdata_path("profiles/good/oauth2-files.json"), NULL, 0);

    cr_assert_eq(p->auth, SMTP_AUTH_XOAUTH2,
                 "oauth2 makes xoauth2 the default");
    cr_assert_str_eq(p->oauth2.client_id, "client-1");
    cr_assert_str_eq(p->oauth2.client_secret_file,
                     "/run/secrets/client.secret");
    cr_assert_str_eq(p->oauth2.refresh_token_file,
                     "/run/secrets/refresh.token");
    cr_assert_null(p->oauth2.refresh_token_env);
    profile_free(p);
}

Test(profile, user_env_is_read_at_load)
{
    const char *path = testdata_path("profiles/good/user-env.json");
    struct profile *p;

    load_fails(path, NULL, 0, PB_E_IO,
               "$.user_env: environment variable PROBE_TEST_USER is not set");
    setenv("PROBE_TEST_USER", "", 1);
    load_fails(path, NULL, 0, PB_E_IO, "PROBE_TEST_USER is not set");
    setenv("PROBE_TEST_USER", "bad\r\nuser", 1);
    load_fails(path, NULL, 0, PB_E_SYNTAX, "holds a line break");
    setenv("PROBE_TEST_USER", "probe@example.com", 1);
    p = load_ok(path, NULL, 0);
    cr_assert_str_eq(p->user, "probe@example.com");
    cr_assert_str_eq(p->user_env, "PROBE_TEST_USER");
    cr_assert_eq(p->auth, SMTP_AUTH_AUTO);
    profile_free(p);
}

Test(profile, lab_status_profiles_with_nulls_load)
{
    struct profile *p =
        load_ok(testdata_path("profiles/good/lab-generated.json"), NULL, 0);

    cr_assert_str_eq(p->host, "127.0.1.10", "an IP host is verified as IP");
    cr_assert_null(p->user);
    cr_assert_null(p->password_file);
    cr_assert_eq(p->auth, SMTP_AUTH_NONE);
    profile_free(p);
}

Test(profile, insecure_and_clear_text_auth_warn)
{
    struct profile *p;

    p = load_ok(testdata_path("profiles/good/insecure.json"), NULL, 0);
    cr_assert(p->insecure);
    cr_assert_eq(p->nwarnings, 1);
    cr_assert_not_null(strstr(p->warnings[0], "insecure is true"));
    cr_assert_not_null(strstr(p->warnings[0], "smtp.example.com"));
    profile_free(p);
    p = load_ok(testdata_path("profiles/good/clear-auth.json"), NULL, 0);
    cr_assert_eq(p->nwarnings, 1);
    cr_assert_not_null(strstr(p->warnings[0], "clear text"));
    profile_free(p);
}

/* ------------------------------------------------------------------ */
/* Bad files                                                           */

struct bad_case {
    const char *file;
    enum pb_code code;
    const char *msg; /* after "PATH: " */
};

static const struct bad_case bad_cases[] = {
    {"unknown-key.json", PB_E_SYNTAX, "$.prot: unknown key"},
    {"unknown-key-nested.json", PB_E_SYNTAX, "$.oauth2.token_uri: unknown key"},
    {"unknown-key-timeouts.json", PB_E_SYNTAX, "$.timeouts.read: unknown key"},
    {"var-unknown-key.json", PB_E_SYNTAX,
     "$.variables.tenant.value: unknown key"},
    {"duplicate-key.json", PB_E_SYNTAX, "$.host: duplicate key"},
    {"duplicate-key-nested.json", PB_E_SYNTAX,
     "$.timeouts.data: duplicate key"},
    {"port-string.json", PB_E_SYNTAX,
     "$.port: expected an integer from 1 to 65535"},
    {"port-range.json", PB_E_SYNTAX,
     "$.port: expected an integer from 1 to 65535"},
    {"port-zero.json", PB_E_SYNTAX, "$.port: expected an integer"},
    {"port-fraction.json", PB_E_SYNTAX, "$.port: expected an integer"},
    {"tls-bad.json", PB_E_SYNTAX,
     "$.tls: must be \"starttls\", \"tls\" or \"none\", not \"ssl\""},
    {"auth-bad.json", PB_E_SYNTAX, "$.auth: must be \"none\""},
    {"insecure-string.json", PB_E_SYNTAX, "$.insecure: expected true or false"},
    {"missing-host.json", PB_E_SYNTAX, "$.host: missing"},
    {"host-bad.json", PB_E_SYNTAX,
     "$.host: must be a host name or an IP address, not \"smtp example.com\""},
    {"address-name.json", PB_E_SYNTAX,
     "$.address: must be an IPv4 or IPv6 address"},
    {"helo-ip.json", PB_E_SYNTAX,
     "$.helo: must be a domain name or an address "
     "literal"},
    {"empty-string.json", PB_E_SYNTAX, "$.ca_file: must not be empty"},
    {"cr-in-value.json", PB_E_SYNTAX,
     "$.helo: the string holds a line break (CR or LF)"},
    {"lf-in-value.json", PB_E_SYNTAX, "$.user: the string holds a line break"},
    {"control.json", PB_E_SYNTAX,
     "$.description: the string holds a control character"},
    {"c1-control.json", PB_E_SYNTAX,
     "$.description: the string holds a control character"},
    {"invalid-utf8.json", PB_E_SYNTAX,
     "$.description: the string is not valid UTF-8"},
    {"nul-escape.json", PB_E_SYNTAX,
     "nul-escape.json:2:28: NUL is not allowed"},
    {"syntax.json", PB_E_SYNTAX, "syntax.json:3:15: not valid JSON"},
    {"trailing-garbage.json", PB_E_SYNTAX,
     "trailing-garbage.json:1:30: not valid JSON"},
    {"not-object.json", PB_E_SYNTAX, "$: expected an object"},
    {"notes-not-strings.json", PB_E_SYNTAX, "$.notes[1]: expected a string"},
    {"password-and-oauth2.json", PB_E_SYNTAX,
     "$: a password (password_env, password_file) and oauth2 exclude each "
     "other"},
    {"xoauth2-without-oauth2.json", PB_E_SYNTAX,
     "$.auth: xoauth2 needs an oauth2 object"},
    {"oauth2-with-plain.json", PB_E_SYNTAX,
     "$.auth: plain with oauth2: OAuth2 needs auth xoauth2"},
    {"auth-without-password.json", PB_E_SYNTAX,
     "$.auth: plain needs password_env or password_file"},
    {"auth-none-with-user.json", PB_E_SYNTAX,
     "$.auth: none, but credentials are given"},
    {"password-without-user.json", PB_E_SYNTAX,
     "$.auth: a password is given without a user"},
    {"user-and-user-env.json", PB_E_SYNTAX,
     "$: user and user_env exclude each other"},
    {"password-env-and-file.json", PB_E_SYNTAX,
     "$: password_env and password_file exclude each other"},
    {"env-name-bad.json", PB_E_SYNTAX,
     "$.password_env: must be the name of an environment variable"},
    {"token-url-http.json", PB_E_SYNTAX,
     "$.oauth2.token_url: must be an https URL"},
    {"token-url-userinfo.json", PB_E_SYNTAX,
     "$.oauth2.token_url: must not hold a user or password"},
    {"oauth2-two-client-ids.json", PB_E_SYNTAX,
     "$.oauth2: exactly one of client_id, client_id_env, client_id_file"},
    {"oauth2-no-refresh.json", PB_E_SYNTAX,
     "$.oauth2: exactly one of refresh_token_env, refresh_token_file"},
    {"oauth2-no-url.json", PB_E_SYNTAX, "$.oauth2: token_url is required"},
    {"unknown-variable.json", PB_E_SYNTAX, "$.host: unknown variable {tenat}"},
    {"single-brace.json", PB_E_SYNTAX,
     "$.helo: a single } (write }} for a literal brace)"},
    {"open-brace.json", PB_E_SYNTAX, "$.helo: unknown variable {a b}"},
    {"var-bad-name.json", PB_E_SYNTAX,
     "$.variables.Tenant: \"Tenant\" is not a variable name"},
    {"var-no-description.json", PB_E_SYNTAX,
     "$.variables.tenant: a variable needs a \"description\""},
    {"var-required-default.json", PB_E_SYNTAX,
     "$.variables.tenant: a required variable has no \"default\""},
    {"timeout-range.json", PB_E_SYNTAX,
     "$.timeouts.data: expected a number of seconds above 0, at most 3600"},
    {"timeout-zero.json", PB_E_SYNTAX, "$.timeouts.connect: expected a number"},
    {"parallel-range.json", PB_E_SYNTAX,
     "$.parallel: expected an integer from 1 to 64"},
    {"required-unset.json", PB_E_SYNTAX,
     "variable tenant is required: --set tenant=VALUE (the part of your MX "
     "host before .mail.protection.outlook.com)"},
    {"host-from-unset-variable.json", PB_E_SYNTAX,
     "$.host: variable relay has no value: --set relay=VALUE"},
};

ParameterizedTestParameters(profile, refuses_bad_file)
{
    return testdata_index_params(sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(size_t *ix, profile, refuses_bad_file)
{
    const struct bad_case *c = &bad_cases[*ix];
    char rel[128], want[512];
    const char *path;

    snprintf(rel, sizeof(rel), "profiles/bad/%s", c->file);
    path = testdata_path(rel);
    /* messages start with the file as given, then the JSON path */
    if (strncmp(c->msg, "$", 1) == 0)
        snprintf(want, sizeof(want), "%s: %s", path, c->msg);
    else
        snprintf(want, sizeof(want), "%s", c->msg);
    load_fails(path, NULL, 0, c->code, want);
}

Test(profile, every_bad_file_has_a_case)
{
    DIR *d = opendir(testdata_path("profiles/bad"));
    struct dirent *e;
    size_t i, n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        bool is_known = false;

        if (e->d_name[0] == '.')
            continue;
        n++;
        for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
            is_known |= strcmp(bad_cases[i].file, e->d_name) == 0;
        cr_assert(is_known, "bad/%s has no case", e->d_name);
    }
    closedir(d);
    cr_assert_eq(n, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

Test(profile, file_over_64_kib_is_refused)
{
    char path[128];
    FILE *f;
    size_t i;

    snprintf(path, sizeof(path), "%s/big.json", tmpdir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"host\": \"smtp.example.com\", \"description\": \"", f);
    for (i = 0; i < PROFILE_LIMIT_BYTES; i++)
        fputc('x', f);
    fputs("\"}\n", f);
    fclose(f);
    load_fails(path, NULL, 0, PB_E_LIMIT, "over the limit of 65536 bytes");
}

Test(profile, file_of_exactly_64_kib_is_read)
{
    static const char head[] = "{\"host\": \"smtp.example.com\"";
    char path[128];
    struct profile *p;
    FILE *f;
    size_t i;

    snprintf(path, sizeof(path), "%s/at-limit.json", tmpdir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(head, f);
    for (i = strlen(head); i < PROFILE_LIMIT_BYTES - 1; i++)
        fputc(i % 80 == 0 ? '\n' : ' ', f);
    fputc('}', f);
    cr_assert_eq(ftell(f), PROFILE_LIMIT_BYTES);
    fclose(f);
    p = load_ok(path, NULL, 0);
    cr_assert_str_eq(p->host, "smtp.example.com");
    profile_free(p);
}

Test(profile, missing_file_and_directory_are_io_errors)
{
    load_fails("/nonexistent/relay.json", NULL, 0, PB_E_IO,
               "cannot open profile /nonexistent/relay.json");
    load_fails(tmpdir, NULL, 0, PB_E_IO, "is not a regular file");
}

/* ------------------------------------------------------------------ */
/* --set                                                               */

Test(profile, set_overrides_typed_fields)
{
    const char *sets[] = {
        "port=2525",        "tls=tls",     "insecure=false",
        "parallel=4",       "address=::1", "source_address=127.0.0.2",
        "helo=[192.0.2.1]", "ca_file=",    "user=other@good.test"};
    struct profile *p = load_ok("lab", sets, 9);

    cr_assert_eq(p->port, 2525);
    cr_assert_eq(p->tls, SMTP_TLS_IMPLICIT);
    cr_assert_eq(p->parallel, 4);
    cr_assert_str_eq(p->address, "::1");
    cr_assert_str_eq(p->source_address, "127.0.0.2");
    cr_assert_str_eq(p->helo, "[192.0.2.1]");
    cr_assert_null(p->ca_file, "an empty --set clears");
    cr_assert_str_eq(p->user, "other@good.test");
    profile_free(p);
}

Test(profile, set_later_wins_and_pairs_replace_each_other)
{
    const char *sets[] = {"port=26", "port=27", "password_env=LAB_PASSWORD",
                          "auth=plain"};
    struct profile *p = load_ok("lab", sets, 4);

    cr_assert_eq(p->port, 27);
    cr_assert_str_eq(p->password_env, "LAB_PASSWORD");
    cr_assert_null(p->password_file, "password_env replaces password_file");
    cr_assert_eq(p->auth, SMTP_AUTH_PLAIN);
    profile_free(p);
}

Test(profile, set_insecure_warns)
{
    const char *sets[] = {"insecure=true"};
    struct profile *p = load_ok("lab", sets, 1);

    cr_assert(p->insecure);
    cr_assert_eq(p->nwarnings, 1);
    cr_assert_not_null(strstr(p->warnings[0], "profile lab: insecure"));
    profile_free(p);
}

struct set_case {
    const char *set;
    enum pb_code code;
    const char *msg;
};

static const struct set_case set_cases[] = {
    {"port=abc", PB_E_SYNTAX,
     "--set port=abc: port must be an integer from 1 to 65535"},
    {"port=65536", PB_E_SYNTAX, "--set port=65536: port must be an integer"},
    {"port=-1", PB_E_SYNTAX, "--set port=-1: port must be an integer"},
    {"tls=ssl", PB_E_SYNTAX, "--set tls=ssl: tls must be \"starttls\""},
    {"auth=ntlm", PB_E_SYNTAX, "--set auth=ntlm: auth must be \"none\""},
    {"insecure=yes", PB_E_SYNTAX,
     "--set insecure=yes: insecure must be true "
     "or false"},
    {"parallel=0", PB_E_SYNTAX,
     "--set parallel=0: parallel must be an "
     "integer from 1 to 64"},
    {"address=relay", PB_E_SYNTAX,
     "--set address=relay: address must be an IPv4 or IPv6 address"},
    {"host=", PB_E_SYNTAX, "--set host=: host must not be empty"},
    {"host=a b", PB_E_SYNTAX, "--set host=a b: host must be a host name"},
    {"helo=a\r\nRSET", PB_E_SYNTAX, "the value holds a line break"},
    {"password_env=A-B", PB_E_SYNTAX,
     "--set password_env=A-B: password_env must be the name of an "
     "environment variable"},
    {"prot=25", PB_E_USAGE,
     "--set prot=25: unknown --set key (variables: lab_dir; fields: host"},
    {"description=x", PB_E_USAGE, "--set description=x: unknown --set key"},
    {"oauth2=x", PB_E_USAGE, "--set oauth2=x: unknown --set key"},
    {"nokey", PB_E_USAGE, "--set nokey: expected KEY=VALUE"},
    {"=value", PB_E_USAGE, "--set =value: expected KEY=VALUE"},
    {"auth=xoauth2", PB_E_SYNTAX, "$.auth: xoauth2 needs an oauth2 object"},
    {"auth=none", PB_E_SYNTAX, "$.auth: none, but credentials are given"},
};

ParameterizedTestParameters(profile, set_refuses)
{
    return testdata_index_params(sizeof(set_cases) / sizeof(set_cases[0]));
}

ParameterizedTest(size_t *ix, profile, set_refuses)
{
    const struct set_case *c = &set_cases[*ix];

    load_fails("lab", &c->set, 1, c->code, c->msg);
}

Test(profile, too_many_sets_are_refused)
{
    const char *sets[PROFILE_LIMIT_SETS + 1];
    size_t i;

    for (i = 0; i < PROFILE_LIMIT_SETS + 1; i++)
        sets[i] = "port=25";
    load_fails("lab", sets, PROFILE_LIMIT_SETS + 1, PB_E_LIMIT,
               "more than 64 --set options");
}

/* ------------------------------------------------------------------ */
/* URL specs                                                           */

Test(profile, smtp_url_is_starttls_without_auth)
{
    struct profile *p = load_ok("smtp://mail.example.com", NULL, 0);

    cr_assert_str_eq(p->host, "mail.example.com");
    cr_assert_eq(p->port, 25);
    cr_assert_eq(p->tls, SMTP_TLS_STARTTLS);
    cr_assert_eq(p->auth, SMTP_AUTH_NONE);
    cr_assert_null(p->path);
    cr_assert_str_eq(p->name, "smtp://mail.example.com");
    profile_free(p);
    p = load_ok("smtp://mail.example.com:587/", NULL, 0);
    cr_assert_eq(p->port, 587);
    profile_free(p);
}

Test(profile, smtps_url_is_implicit_tls)
{
    struct profile *p = load_ok("smtps://mail.example.com", NULL, 0);

    cr_assert_eq(p->tls, SMTP_TLS_IMPLICIT);
    cr_assert_eq(p->port, 465);
    profile_free(p);
    p = load_ok("smtps://[2001:db8::1]:4650", NULL, 0);
    cr_assert_str_eq(p->host, "2001:db8::1");
    cr_assert_eq(p->port, 4650);
    profile_free(p);
}

Test(profile, url_takes_set)
{
    const char *sets[] = {"user=probe", "password_env=PW", "ca_file=/ca.pem"};
    struct profile *p = load_ok("smtp://127.0.0.1:2525", sets, 3);

    cr_assert_eq(p->auth, SMTP_AUTH_AUTO);
    cr_assert_str_eq(p->user, "probe");
    cr_assert_str_eq(p->ca_file, "/ca.pem");
    profile_free(p);
    load_fails("smtp://127.0.0.1:2525", sets, 1, PB_E_SYNTAX,
               "auto needs password_env");
    load_fails("smtp://127.0.0.1", (const char *[]){"tenant=x"}, 1, PB_E_USAGE,
               "unknown --set key (variables: none;");
}

Test(profile, bad_urls_are_refused)
{
    load_fails("smtp://user:secret@mail.example.com", NULL, 0, PB_E_USAGE,
               "no user or password in a relay URL");
    load_fails("smtp://mail.example.com:0", NULL, 0, PB_E_USAGE,
               "the port must be an integer from 1 to 65535");
    load_fails("smtp://mail.example.com:99999", NULL, 0, PB_E_USAGE,
               "the port must be");
    load_fails("smtp://mail.example.com:", NULL, 0, PB_E_USAGE,
               "the port must be");
    load_fails("smtp://", NULL, 0, PB_E_USAGE, "expected smtp://HOST[:PORT]");
    load_fails("smtp://mail example.com", NULL, 0, PB_E_USAGE,
               "not a host name");
    load_fails("smtps://[::1", NULL, 0, PB_E_USAGE, "expected smtp://[IPV6]");
}

/* ------------------------------------------------------------------ */
/* Names and the search path                                           */

Test(profile, name_not_found_lists_dirs_and_names)
{
    char path[256], want[512];

    snprintf(path, sizeof(path), "%s/a:%s/b", tmpdir, tmpdir);
    setenv("PROBE_PROFILE_PATH", path, 1);
    snprintf(want, sizeof(want),
             "searched: %s/a %s/b %s/probe/profiles /etc/probe/profiles %s",
             tmpdir, tmpdir, tmpdir, profile_builtin_dir());
    load_fails("gmial", NULL, 0, PB_E_IO, "profile gmial not found");
    load_fails("gmial", NULL, 0, PB_E_IO,
               "available: generic, gmail, gmail-submission, lab, "
               "lab-allowlist, m365, m365-connector;");
    load_fails("gmial", NULL, 0, PB_E_IO, want);
}

Test(profile, names_that_are_no_name_are_usage_errors)
{
    load_fails("Gmail", NULL, 0, PB_E_USAGE,
               "--relay Gmail: expected a "
               "profile name");
    load_fails("-gmail", NULL, 0, PB_E_USAGE, "expected a profile name");
    load_fails("", NULL, 0, PB_E_USAGE, "expected a profile name");
    load_fails("gmail..x", NULL, 0, PB_E_USAGE, "expected a profile name");
}

Test(profile, search_path_order)
{
    char a[128], b[128], conf[128], path[300], file[256];
    struct profile *p;

    snprintf(a, sizeof(a), "%s/a", tmpdir);
    snprintf(b, sizeof(b), "%s/b", tmpdir);
    snprintf(conf, sizeof(conf), "%s/probe", tmpdir);
    cr_assert_eq(mkdir(a, 0700), 0);
    cr_assert_eq(mkdir(b, 0700), 0);
    cr_assert_eq(mkdir(conf, 0700), 0);
    strcat(conf, "/profiles");
    cr_assert_eq(mkdir(conf, 0700), 0);
    snprintf(path, sizeof(path), "%s::%s", a,
             b); /* an empty entry is skipped */
    setenv("PROBE_PROFILE_PATH", path, 1);

    /* the built-in one, with nothing in front of it */
    p = load_ok("gmail", NULL, 0);
    cr_assert_str_eq(p->host, "smtp-relay.gmail.com");
    profile_free(p);

    snprintf(file, sizeof(file), "%s/gmail.json", conf);
    write_file(file, "{\"host\": \"config.example.com\"}");
    p = load_ok("gmail", NULL, 0);
    cr_assert_str_eq(p->host, "config.example.com");
    cr_assert_str_eq(p->path, file);
    profile_free(p);

    snprintf(file, sizeof(file), "%s/gmail.json", b);
    write_file(file, "{\"host\": \"b.example.com\"}");
    p = load_ok("gmail", NULL, 0);
    cr_assert_str_eq(p->host, "b.example.com");
    profile_free(p);

    snprintf(file, sizeof(file), "%s/gmail.json", a);
    write_file(file, "{\"host\": \"a.example.com\"}");
    p = load_ok("gmail", NULL, 0);
    cr_assert_str_eq(p->host, "a.example.com");
    profile_free(p);

    /* a profile only on the path, and in the list of names */
    snprintf(file, sizeof(file), "%s/own-relay.json", b);
    write_file(file, "{\"host\": \"own.example.com\"}");
    p = load_ok("own-relay", NULL, 0);
    cr_assert_str_eq(p->host, "own.example.com");
    profile_free(p);
    load_fails("nope", NULL, 0, PB_E_IO, "m365-connector, own-relay;");

    /* a broken profile found first is an error, not skipped */
    snprintf(file, sizeof(file), "%s/gmail.json", a);
    write_file(file, "{\"host\": 1}");
    load_fails("gmail", NULL, 0, PB_E_SYNTAX, "$.host: expected a string");
}

Test(profile, home_config_is_used_without_xdg)
{
    char dir[160], file[200];
    struct profile *p;

    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", tmpdir, 1);
    snprintf(dir, sizeof(dir), "%s/.config", tmpdir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    strcat(dir, "/probe");
    cr_assert_eq(mkdir(dir, 0700), 0);
    strcat(dir, "/profiles");
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(file, sizeof(file), "%s/mine.json", dir);
    write_file(file, "{\"host\": \"home.example.com\"}");
    p = load_ok("mine", NULL, 0);
    cr_assert_str_eq(p->host, "home.example.com");
    profile_free(p);
}

Test(profile, spec_with_slash_or_json_suffix_is_a_file)
{
    char file[160], cwd[512];
    struct profile *p;

    snprintf(file, sizeof(file), "%s/gmail.json", tmpdir);
    write_file(file, "{\"host\": \"file.example.com\"}");
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(tmpdir), 0);
    p = load_ok("gmail.json", NULL, 0); /* not the shipped gmail */
    cr_assert_str_eq(p->host, "file.example.com");
    profile_free(p);
    p = load_ok("./gmail.json", NULL, 0);
    cr_assert_str_eq(p->host, "file.example.com");
    profile_free(p);
    cr_assert_eq(chdir(cwd), 0);
}

/* ------------------------------------------------------------------ */
/* Parsing from memory                                                 */

Test(profile, parse_refuses_raw_nul_with_position)
{
    static const char text[] = "{\"host\": \"a\0b\"}";
    struct profile *p;
    struct pb_err err;

    cr_assert_eq(profile_parse("mem", "mem.json", text, sizeof(text) - 1, NULL,
                               0, &p, &err),
                 -1);
    cr_assert_str_eq(err.msg, "mem.json:1:12: NUL is not allowed");
}

Test(profile, parse_escapes_hostile_keys_in_paths)
{
    static const char text[] = "{\"host\": \"a.example\", \"\\u001b[31m\": 1}";
    struct profile *p;
    struct pb_err err;

    cr_assert_eq(profile_parse("mem", "mem.json", text, sizeof(text) - 1, NULL,
                               0, &p, &err),
                 -1);
    cr_assert_not_null(strstr(err.msg, "mem.json: $[\"\\x1b[31m\"]: unknown "
                                       "key"),
                       "%s", err.msg);
}

Test(profile, too_many_variables_are_refused)
{
    char text[4096];
    size_t i, n = 0;
    struct profile *p;
    struct pb_err err;

    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "{\"host\": \"a.example\", \"variables\": {");
    for (i = 0; i <= PROFILE_LIMIT_VARIABLES; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "%s\"v%zu\": {\"description\": \"d\"}",
                              i ? "," : "", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "}}");
    cr_assert_eq(profile_parse("mem", "mem.json", text, n, NULL, 0, &p, &err),
                 -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_not_null(strstr(err.msg, "$.variables: more than 32 variables"),
                       "%s", err.msg);
}

Test(profile, substitution_over_the_string_limit_is_refused)
{
    const char *text;
    char *big = malloc(PROFILE_LIMIT_STRING);
    const char *set;
    struct profile *p;
    struct pb_err err;
    char *arg;

    cr_assert_not_null(big);
    memset(big, 'x', PROFILE_LIMIT_STRING - 1);
    big[PROFILE_LIMIT_STRING - 1] = '\0';
    text = "{\"host\": \"a.example\", \"ca_file\": \"/{v}{v}\", "
           "\"variables\": {\"v\": {\"description\": \"d\"}}}";
    arg = malloc(PROFILE_LIMIT_STRING + 8);
    cr_assert_not_null(arg);
    snprintf(arg, PROFILE_LIMIT_STRING + 8, "v=%s", big);
    set = arg;
    cr_assert_eq(
        profile_parse("mem", "mem.json", text, strlen(text), &set, 1, &p, &err),
        -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_not_null(strstr(err.msg, "$.ca_file: longer than 4096 bytes "
                                       "after substitution"),
                       "%s", err.msg);
    free(arg);
    free(big);
}
