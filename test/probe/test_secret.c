/* SPDX-License-Identifier: MIT */
/*
 * Secrets (probe/secret.c): passwords from the environment and from files
 * with their permission rules, and the OAuth2 refresh-token flow against
 * test/support/fake_oauth2.py on 127.0.6.1 (started per test; it checks
 * every form field and logs each request, so a test can count them).
 * Every credential is a canary string that must never show in an error,
 * its evidence, a warning, the log or the cache file.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pb_log.h"
#include "profile.h"
#include "secret.h"
#include "testdata.h"

#define CLIENT_ID     "probe-test-client"
#define CLIENT_SECRET "CANARY-client-secret-3b1f"
#define REFRESH       "CANARY-refresh-token-8e2a"
#define NEW_REFRESH   "CANARY-rotated-refresh-77c4"
#define PASSWORD      "CANARY-password-5d9e"
#define SCOPE         "https://outlook.office.com/SMTP.Send offline_access"

static const char *const canaries[] = {CLIENT_SECRET, REFRESH, NEW_REFRESH,
                                       PASSWORD, "fake-access-"};

static char tmpdir[64];
static char logpath[128];  /* the fake server's request log */
static char errpath[128];  /* our stderr: the operator log */
static char cachedir[128]; /* the token cache of most tests */
static pid_t fake_pid;
static int fake_port;
static char token_url[96];

static void
setup(void)
{
    int fd;

    testdata_tmpdir(tmpdir, sizeof(tmpdir), "pbsec");
    snprintf(logpath, sizeof(logpath), "%s/requests.log", tmpdir);
    snprintf(errpath, sizeof(errpath), "%s/stderr.log", tmpdir);
    snprintf(cachedir, sizeof(cachedir), "%s/cache", tmpdir);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", tmpdir, 1);
    /* capture the log at its most talkative, to look for secrets in it */
    pb_log_level = PB_LOG_DEBUG;
    fflush(stderr);
    fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_geq(dup2(fd, 2), 0);
    close(fd);
}

static void
teardown(void)
{
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
        fake_pid = 0;
    }
    testdata_rm_rf(tmpdir);
}

TestSuite(secret, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static char *
read_all(const char *path)
{
    char *s = testdata_read(path, NULL);

    return s != NULL ? s : strdup("");
}

static void
assert_no_canary(const char *what, const char *text)
{
    size_t i;

    for (i = 0; i < sizeof(canaries) / sizeof(canaries[0]); i++)
        cr_assert_null(strstr(text, canaries[i]), "%s shows %s: %s", what,
                       canaries[i], text);
}

static void
assert_err_clean(const struct pb_err *err)
{
    assert_no_canary("err.msg", err->msg);
    assert_no_canary("err.evidence", err->evidence);
}

/* The operator log has no secret in it (call at the end of a test). */
static void
assert_log_clean(void)
{
    char *log;

    fflush(stderr);
    log = read_all(errpath);
    assert_no_canary("the log", log);
    free(log);
}

static char *
tmp_path(const char *name)
{
    static char path[4][192];
    static int n;

    n = (n + 1) % 4;
    snprintf(path[n], sizeof(path[n]), "%s/%s", tmpdir, name);
    return path[n];
}

static mode_t
mode_of(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return st.st_mode & 07777;
}

/*
 * Start the fake token endpoint with the expected client id and refresh
 * token and the NULL-terminated extra arguments; token_url points at it.
 */
static void
fake_start(const char *const *extra)
{
    char script[512], line[32];
    char *argv[32];
    size_t n = 0, i;
    int fds[2];
    FILE *f;

    snprintf(script, sizeof(script), "%s/../support/fake_oauth2.py",
             PB_TEST_DATA);
    argv[n++] = "python3";
    argv[n++] = script;
    argv[n++] = "--client-id";
    argv[n++] = CLIENT_ID;
    argv[n++] = "--refresh-token";
    argv[n++] = REFRESH;
    argv[n++] = "--log";
    argv[n++] = logpath;
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    fake_pid = fork();
    cr_assert_geq(fake_pid, 0);
    if (fake_pid == 0) {
        for (i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
            argv[n++] = strdup(extra[i]);
        argv[n] = NULL;
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("python3", argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof(line), f), "fake_oauth2.py did "
                                                     "not start");
    fclose(f);
    fake_port = atoi(line);
    cr_assert_gt(fake_port, 0, "port line: %s", line);
    snprintf(token_url, sizeof(token_url), "http://127.0.6.1:%d/token",
             fake_port);
}

/* Requests the fake answered with a token ("ok" lines), and all of them. */
static int
fake_count(const char *prefix)
{
    char *log = read_all(logpath), *p;
    int n = 0;

    for (p = log; *p != '\0'; p = strchr(p, '\n') + 1) {
        n += strncmp(p, prefix, strlen(prefix)) == 0;
        if (strchr(p, '\n') == NULL)
            break;
    }
    free(log);
    return n;
}

/* The usual confidential client: everything from the environment. */
static struct profile_oauth2
oauth2_env(void)
{
    struct profile_oauth2 o;

    memset(&o, 0, sizeof(o));
    o.token_url = token_url;
    o.client_id = CLIENT_ID;
    o.client_secret_env = "PROBE_T_CLIENT_SECRET";
    o.refresh_token_env = "PROBE_T_REFRESH";
    o.scope = SCOPE;
    setenv("PROBE_T_CLIENT_SECRET", CLIENT_SECRET, 1);
    setenv("PROBE_T_REFRESH", REFRESH, 1);
    return o;
}

static const char *const confidential[] = {"--client-secret", CLIENT_SECRET,
                                           "--scope", SCOPE, NULL};

/* Get a token; the test fails unless it comes. *out is freed by caller. */
static struct secret *
token_ok(const struct profile_oauth2 *o, const char *cache, char *warn,
         size_t warnlen)
{
    struct secret *s = NULL;
    struct pb_err err;
    char w[256];

    pb_err_clear(&err);
    if (warn == NULL) {
        warn = w;
        warnlen = sizeof(w);
    }
    cr_assert_eq(secret_oauth2_token(o, cache, &s, warn, warnlen, &err), 0,
                 "%s [%s]", err.msg, err.evidence);
    cr_assert_not_null(s);
    return s;
}

static void
token_fails(const struct profile_oauth2 *o, const char *cache,
            enum pb_stage stage, enum pb_code code, const char *want,
            struct pb_err *err)
{
    struct secret *s = NULL;
    char warn[256];

    pb_err_clear(err);
    cr_assert_eq(secret_oauth2_token(o, cache, &s, warn, sizeof(warn), err), -1,
                 "a token came, expected: %s", want);
    cr_assert_null(s);
    cr_assert_eq(err->stage, stage, "stage %s: %s", pb_stage_name(err->stage),
                 err->msg);
    cr_assert_eq(err->code, code, "code %s: %s", pb_code_name(err->code),
                 err->msg);
    cr_assert_not_null(strstr(err->msg, want), "\"%s\" lacks \"%s\"", err->msg,
                       want);
    assert_err_clean(err);
    assert_no_canary("warn", warn);
}

/* The one cache file in dir (its path), or "" when there is none. */
static const char *
cache_file(const char *dir)
{
    static char path[512];
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    path[0] = '\0';
    if (d == NULL)
        return path;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        cr_assert_lt(
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name),
            sizeof(path));
        n++;
    }
    closedir(d);
    cr_assert_leq(n, 1, "%d files in the cache", n);
    return path;
}

/* Rewrite the cache file's expires_at (to expire it). */
static void
cache_set_expiry(const char *path, double at)
{
    char *text = read_all(path), *out;
    cJSON *root = cJSON_Parse(text);

    cr_assert_not_null(root, "cache file: %s", text);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(root, "expires_at")));
    cJSON_ReplaceItemInObject(root, "expires_at", cJSON_CreateNumber(at));
    out = cJSON_PrintUnformatted(root);
    testdata_write_mode(path, out, strlen(out), 0600);
    cJSON_free(out);
    cJSON_Delete(root);
    free(text);
}

/* ------------------------------------------------------------------ */
/* Environment                                                         */

Test(secret, password_from_env)
{
    struct profile p = {.name = "t", .password_env = "PROBE_T_PW"};
    struct secret *s;
    struct pb_err err;
    size_t len;

    setenv("PROBE_T_PW", PASSWORD, 1);
    cr_assert_eq(secret_password(&p, &s, &err), 0, "%s", err.msg);
    cr_assert_str_eq(secret_data(s, &len), PASSWORD);
    cr_assert_eq(len, strlen(PASSWORD));
    secret_free(s);
    secret_free(NULL);
}

Test(secret, env_unset_or_empty_names_the_variable)
{
    struct profile p = {.name = "t", .password_env = "PROBE_T_PW"};
    struct secret *s;
    struct pb_err err;

    unsetenv("PROBE_T_PW");
    cr_assert_eq(secret_password(&p, &s, &err), -1);
    cr_assert_null(s);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG);
    cr_assert_str_eq(
        err.msg, "password_env: environment variable PROBE_T_PW is not set");
    setenv("PROBE_T_PW", "", 1);
    cr_assert_eq(secret_password(&p, &s, &err), -1);
    cr_assert_str_eq(
        err.msg, "password_env: environment variable PROBE_T_PW is not set");
    setenv("PROBE_T_PW", PASSWORD "\n", 1);
    cr_assert_eq(secret_password(&p, &s, &err), -1);
    cr_assert_str_eq(err.msg, "password_env: environment variable PROBE_T_PW "
                              "holds a line break");
    assert_err_clean(&err);
}

Test(secret, profile_without_password_is_an_error)
{
    struct profile p = {.name = "relay"};
    struct secret *s;
    struct pb_err err;

    cr_assert_eq(secret_password(&p, &s, &err), -1);
    cr_assert_str_eq(err.msg,
                     "profile relay has no password_env or password_file");
}

Test(secret, for_profile_picks_by_auth)
{
    struct profile p = {
        .name = "t", .auth = SMTP_AUTH_NONE, .password_env = "PROBE_T_PW"};
    struct secret *s = (struct secret *)1;
    struct pb_err err;
    char warn[64] = "x";

    setenv("PROBE_T_PW", PASSWORD, 1);
    cr_assert_eq(secret_for_profile(&p, "", &s, warn, sizeof(warn), &err), 0);
    cr_assert_null(s, "no AUTH, no secret");
    cr_assert_str_eq(warn, "");
    p.auth = SMTP_AUTH_PLAIN;
    cr_assert_eq(secret_for_profile(&p, "", &s, warn, sizeof(warn), &err), 0);
    cr_assert_str_eq(secret_data(s, NULL), PASSWORD);
    secret_free(s);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static int
file_secret(const char *content, size_t len, mode_t mode, struct secret **s,
            struct pb_err *err)
{
    const char *path = tmp_path("secret.pass");

    testdata_write_mode(path, content, len, mode);
    pb_err_clear(err);
    return secret_from_file(path, "password_file", s, err);
}

Test(secret, file_0600_first_line_without_crlf)
{
    struct secret *s;
    struct pb_err err;
    size_t len;

    cr_assert_eq(file_secret(PASSWORD "\r\nsecond line\n", 33, 0600, &s, &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(secret_data(s, &len), PASSWORD);
    cr_assert_eq(len, strlen(PASSWORD));
    secret_free(s);
    cr_assert_eq(file_secret(PASSWORD, strlen(PASSWORD), 0400, &s, &err), 0,
                 "no final newline, read-only");
    cr_assert_str_eq(secret_data(s, NULL), PASSWORD);
    secret_free(s);
    cr_assert_eq(file_secret(" a b \n", 6, 0600, &s, &err), 0);
    cr_assert_str_eq(secret_data(s, NULL), " a b ", "spaces are the secret's");
    secret_free(s);
}

Test(secret, file_readable_by_others_is_refused_with_chmod_hint)
{
    struct secret *s;
    struct pb_err err;
    char want[256];

    cr_assert_eq(file_secret(PASSWORD "\n", 21, 0644, &s, &err), -1);
    cr_assert_null(s);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG);
    cr_assert_eq(err.code, PB_E_IO);
    snprintf(want, sizeof(want),
             "password_file: %s is readable by everyone (mode 0644): chmod 600 "
             "%s",
             tmp_path("secret.pass"), tmp_path("secret.pass"));
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(file_secret(PASSWORD "\n", 21, 0640, &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "is readable by its group (mode 0640)"),
                       "%s", err.msg);
    cr_assert_eq(file_secret(PASSWORD "\n", 21, 0602, &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "is writable by everyone (mode 0602)"),
                       "%s", err.msg);
    cr_assert_eq(file_secret(PASSWORD "\n", 21, 0620, &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "is writable by its group (mode 0620)"),
                       "%s", err.msg);
    assert_err_clean(&err);
}

Test(secret, directory_missing_and_empty_files_are_refused)
{
    struct secret *s;
    struct pb_err err;

    cr_assert_eq(secret_from_file(tmpdir, "password_file", &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "is not a regular file"), "%s", err.msg);
    cr_assert_eq(secret_from_file(tmp_path("nope"), "password_file", &s, &err),
                 -1);
    cr_assert_not_null(strstr(err.msg, "cannot open"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "No such file"), "%s", err.msg);
    cr_assert_eq(file_secret("", 0, 0600, &s, &err), -1);
    cr_assert_eq(err.code, PB_E_SYNTAX);
    cr_assert_not_null(strstr(err.msg, "is empty (the secret is its first "
                                       "line)"),
                       "%s", err.msg);
    cr_assert_eq(file_secret("\r\n" PASSWORD "\n", 23, 0600, &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "is empty"), "%s", err.msg);
    cr_assert_eq(file_secret("a\0b\n", 4, 0600, &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "holds a NUL or a CR"), "%s", err.msg);
    cr_assert_eq(file_secret("a\rb\n", 4, 0600, &s, &err), -1);
    cr_assert_not_null(strstr(err.msg, "holds a NUL or a CR"), "%s", err.msg);
    assert_err_clean(&err);
}

Test(secret, file_size_limit)
{
    char *big = malloc(SECRET_LIMIT_FILE + 1);
    struct secret *s;
    struct pb_err err;
    size_t len;

    cr_assert_not_null(big);
    memset(big, 'x', SECRET_LIMIT_FILE + 1);
    big[SECRET_LIMIT_FILE - 1] = '\n';
    cr_assert_eq(file_secret(big, SECRET_LIMIT_FILE, 0600, &s, &err), 0,
                 "exactly at the limit: %s", err.msg);
    secret_data(s, &len);
    cr_assert_eq(len, SECRET_LIMIT_FILE - 1);
    secret_free(s);
    cr_assert_eq(file_secret(big, SECRET_LIMIT_FILE + 1, 0600, &s, &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert_not_null(strstr(err.msg, "over the limit of 4096 bytes"), "%s",
                       err.msg);
    free(big);
}

Test(secret, symlink_to_a_private_file_is_followed)
{
    char *target = tmp_path("real.pass");
    char *link = tmp_path("link.pass");
    struct profile p = {.name = "t"};
    struct secret *s;
    struct pb_err err;

    testdata_write_mode(target, PASSWORD "\n", 21, 0600);
    cr_assert_eq(symlink(target, link), 0);
    p.password_file = link;
    cr_assert_eq(secret_password(&p, &s, &err), 0, "%s", err.msg);
    cr_assert_str_eq(secret_data(s, NULL), PASSWORD);
    secret_free(s);
}

/* ------------------------------------------------------------------ */
/* OAuth2                                                              */

Test(secret, oauth2_token_is_fetched_then_cached)
{
    struct profile_oauth2 o;
    struct secret *s;
    char warn[256];
    const char *file;
    char *content, name[128];

    fake_start(confidential);
    o = oauth2_env();
    s = token_ok(&o, cachedir, warn, sizeof(warn));
    cr_assert_eq(strncmp(secret_data(s, NULL), "fake-access-1.", 14), 0, "%s",
                 secret_data(s, NULL));
    cr_assert_str_eq(warn, "");
    secret_free(s);
    cr_assert_eq(fake_count("ok"), 1);
    cr_assert_eq(fake_count("refused"), 0);

    /* the cache: a private directory, a private file named by a hash */
    cr_assert_eq(mode_of(cachedir), 0700);
    file = cache_file(cachedir);
    cr_assert_neq(file[0], '\0', "no cache file");
    cr_assert_eq(mode_of(file), 0600);
    snprintf(name, sizeof(name), "%s", strrchr(file, '/') + 1);
    cr_assert_eq(strlen(name), 64 + 5, "%s", name);
    cr_assert_str_eq(name + 64, ".json");
    content = read_all(file);
    cr_assert_null(strstr(content, REFRESH));
    cr_assert_null(strstr(content, CLIENT_SECRET));
    free(content);

    /* the second time, no request */
    s = token_ok(&o, cachedir, NULL, 0);
    cr_assert_eq(strncmp(secret_data(s, NULL), "fake-access-1.", 14), 0);
    secret_free(s);
    cr_assert_eq(fake_count("ok"), 1, "the cache was not used");
    assert_log_clean();
}

Test(secret, oauth2_expired_cache_asks_again)
{
    struct profile_oauth2 o;
    struct secret *s;

    fake_start(confidential);
    o = oauth2_env();
    secret_free(token_ok(&o, cachedir, NULL, 0));
    /* within the 60 s margin counts as expired */
    cache_set_expiry(cache_file(cachedir), (double)time(NULL) + 30);
    s = token_ok(&o, cachedir, NULL, 0);
    cr_assert_eq(strncmp(secret_data(s, NULL), "fake-access-2.", 14), 0);
    secret_free(s);
    cr_assert_eq(fake_count("ok"), 2);
    /* and the new token was cached */
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(fake_count("ok"), 2);
    assert_log_clean();
}

Test(secret, oauth2_cache_with_bad_mode_or_content_is_replaced)
{
    struct profile_oauth2 o;
    const char *file;

    fake_start(confidential);
    o = oauth2_env();
    secret_free(token_ok(&o, cachedir, NULL, 0));
    file = cache_file(cachedir);
    cr_assert_eq(chmod(file, 0644), 0);
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(fake_count("ok"), 2, "a 0644 cache file must be ignored");
    cr_assert_eq(mode_of(file), 0600, "and replaced");

    testdata_write_mode(file, "{\"not\": \"a cache\"}", 18, 0600);
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(fake_count("ok"), 3);
    testdata_write_mode(file, "garbage", 7, 0600);
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(fake_count("ok"), 4);
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(fake_count("ok"), 4, "the replaced file is used");
}

Test(secret, oauth2_cache_is_keyed_by_the_refresh_token)
{
    struct profile_oauth2 o;

    fake_start(confidential);
    o = oauth2_env();
    secret_free(token_ok(&o, cachedir, NULL, 0));
    setenv("PROBE_T_REFRESH", "another-refresh-token", 1);
    token_fails(&o, cachedir, PB_STAGE_AUTH, PB_E_PERMFAIL,
                "answered HTTP 400: invalid_grant", &(struct pb_err){0});
    cr_assert_eq(fake_count("refused: refresh_token"), 1,
                 "another refresh token must not hit the cache");
}

Test(secret, oauth2_short_lived_token_is_not_cached)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET, "--scope", SCOPE,
        "--expires-in",    "60",          NULL};
    struct profile_oauth2 o;

    fake_start(args);
    o = oauth2_env();
    secret_free(token_ok(&o, cachedir, NULL, 0));
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(fake_count("ok"), 2);
    cr_assert_str_eq(cache_file(cachedir), "");
}

Test(secret, oauth2_empty_cache_dir_means_no_cache)
{
    struct profile_oauth2 o;

    fake_start(confidential);
    o = oauth2_env();
    secret_free(token_ok(&o, "", NULL, 0));
    secret_free(token_ok(&o, "", NULL, 0));
    cr_assert_eq(fake_count("ok"), 2);
}

Test(secret, oauth2_default_cache_dir_follows_xdg)
{
    struct profile_oauth2 o;
    char dir[192];

    fake_start(confidential);
    o = oauth2_env();
    snprintf(dir, sizeof(dir), "%s/xdg", tmpdir);
    setenv("XDG_CACHE_HOME", dir, 1);
    secret_free(token_ok(&o, NULL, NULL, 0));
    snprintf(dir, sizeof(dir), "%s/xdg/probe/oauth2", tmpdir);
    cr_assert_neq(cache_file(dir)[0], '\0');
    cr_assert_eq(mode_of(dir), 0700);
    snprintf(dir, sizeof(dir), "%s/xdg/probe", tmpdir);
    cr_assert_eq(mode_of(dir), 0700);
    /* without XDG_CACHE_HOME: ~/.cache */
    unsetenv("XDG_CACHE_HOME");
    secret_free(token_ok(&o, NULL, NULL, 0));
    snprintf(dir, sizeof(dir), "%s/.cache/probe/oauth2", tmpdir);
    cr_assert_neq(cache_file(dir)[0], '\0');
}

Test(secret, oauth2_group_readable_cache_dir_is_made_private)
{
    struct profile_oauth2 o;

    fake_start(confidential);
    o = oauth2_env();
    cr_assert_eq(mkdir(cachedir, 0755), 0);
    cr_assert_eq(chmod(cachedir, 0755), 0);
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(mode_of(cachedir), 0700);
}

Test(secret, oauth2_error_answer_is_reported_without_secrets)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET, "--scope", SCOPE,
        "--mode",          "error",       NULL};
    struct profile_oauth2 o;
    struct pb_err err;
    char want[200];

    fake_start(args);
    o = oauth2_env();
    snprintf(want, sizeof(want),
             "oauth2 token endpoint %s answered HTTP 400: invalid_grant",
             token_url);
    token_fails(&o, cachedir, PB_STAGE_AUTH, PB_E_PERMFAIL, want, &err);
    cr_assert_str_eq(err.msg, want);
    cr_assert_str_eq(err.evidence, "AADSTS70000: the grant is expired");
    cr_assert_str_eq(cache_file(cachedir), "");
    assert_log_clean();
}

Test(secret, oauth2_form_fields_are_checked_by_the_server)
{
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(confidential);
    o = oauth2_env();
    setenv("PROBE_T_CLIENT_SECRET", "CANARY-client-secret-wrong", 1);
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_PERMFAIL,
                "HTTP 400: invalid_client", &err);
    cr_assert_str_eq(err.evidence, "client_secret");
    setenv("PROBE_T_CLIENT_SECRET", CLIENT_SECRET, 1);
    o.scope = "https://mail.google.com/";
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_PERMFAIL, "HTTP 400: invalid_scope",
                &err);
    o.scope = SCOPE;
    o.client_id = "someone-else";
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_PERMFAIL,
                "HTTP 400: invalid_client", &err);
    cr_assert_eq(fake_count("ok"), 0);
    assert_log_clean();
}

Test(secret, oauth2_error_echoing_a_credential_is_withheld)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET, "--scope", SCOPE,
        "--mode",          "echo",        NULL};
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(args);
    o = oauth2_env();
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_PERMFAIL, "HTTP 400: invalid_grant",
                &err);
    cr_assert_not_null(strstr(err.evidence, "withheld"), "%s", err.evidence);
    assert_log_clean();
}

Test(secret, oauth2_server_trouble_is_temporary)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET, "--scope", SCOPE,
        "--mode",          "status500",   NULL};
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(args);
    o = oauth2_env();
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_TEMPFAIL,
                "HTTP 503: temporarily_unavailable", &err);
}

Test(secret, oauth2_non_json_answer)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET, "--scope", SCOPE,
        "--mode",          "html",        NULL};
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(args);
    o = oauth2_env();
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_TEMPFAIL,
                "answered HTTP 502 without a JSON error", &err);
}

Test(secret, oauth2_answer_over_64_kib_is_refused)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET, "--scope", SCOPE,
        "--mode",          "huge",        NULL};
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(args);
    o = oauth2_env();
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_LIMIT,
                "answered more than 65536 bytes", &err);
}

Test(secret, oauth2_token_type_must_be_bearer)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET, "--scope", SCOPE,
        "--mode",          "mac",         NULL};
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(args);
    o = oauth2_env();
    token_fails(&o, cachedir, PB_STAGE_AUTH, PB_E_SYNTAX, "not Bearer", &err);
    cr_assert_str_eq(cache_file(cachedir), "");
}

Test(secret, oauth2_rotated_refresh_token_rewrites_its_file)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET,         "--scope",   SCOPE, "--mode",
        "rotate",          "--new-refresh-token", NEW_REFRESH, NULL};
    char *rfile = tmp_path("refresh.token");
    struct profile_oauth2 o;
    char warn[256], *content;

    fake_start(args);
    o = oauth2_env();
    o.refresh_token_env = NULL;
    o.refresh_token_file = rfile;
    testdata_write_mode(rfile, REFRESH "\n", strlen(REFRESH) + 1, 0600);
    secret_free(token_ok(&o, cachedir, warn, sizeof(warn)));
    cr_assert_str_eq(warn, "", "%s", warn);
    content = read_all(rfile);
    cr_assert_str_eq(content, NEW_REFRESH "\n");
    free(content);
    cr_assert_eq(mode_of(rfile), 0600);
    /* the server now takes only the new token: prove it was sent */
    secret_free(token_ok(&o, "", NULL, 0));
    cr_assert_eq(fake_count("ok"), 2);
    cr_assert_eq(fake_count("refused"), 0);
    /* and the token got with the old one is cached under the new one */
    secret_free(token_ok(&o, cachedir, NULL, 0));
    cr_assert_eq(fake_count("ok"), 2);
    assert_log_clean();
}

Test(secret, oauth2_rotation_rewrites_the_target_of_a_symlink)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET,         "--scope",   SCOPE, "--mode",
        "rotate",          "--new-refresh-token", NEW_REFRESH, NULL};
    char *target = tmp_path("real.token");
    char *link = tmp_path("link.token");
    struct profile_oauth2 o;
    struct stat st;
    char *content;

    fake_start(args);
    o = oauth2_env();
    o.refresh_token_env = NULL;
    o.refresh_token_file = link;
    testdata_write_mode(target, REFRESH "\n", strlen(REFRESH) + 1, 0600);
    cr_assert_eq(symlink("real.token", link), 0); /* relative */
    secret_free(token_ok(&o, "", NULL, 0));
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link stays a link");
    content = read_all(target);
    cr_assert_str_eq(content, NEW_REFRESH "\n");
    free(content);
    cr_assert_eq(mode_of(target), 0600);
}

Test(secret, oauth2_rotated_refresh_token_from_env_warns)
{
    static const char *const args[] = {
        "--client-secret", CLIENT_SECRET,         "--scope",   SCOPE, "--mode",
        "rotate",          "--new-refresh-token", NEW_REFRESH, NULL};
    struct profile_oauth2 o;
    char warn[256];

    fake_start(args);
    o = oauth2_env();
    secret_free(token_ok(&o, cachedir, warn, sizeof(warn)));
    cr_assert_not_null(strstr(warn, "rotated the refresh token"), "%s", warn);
    cr_assert_not_null(strstr(warn, "PROBE_T_REFRESH"), "%s", warn);
    assert_no_canary("warn", warn);
    assert_log_clean();
}

Test(secret, oauth2_public_client_sends_no_secret)
{
    static const char *const args[] = {"--scope", SCOPE, NULL};
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(args);
    o = oauth2_env();
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_PERMFAIL, "invalid_client", &err);
    o.client_secret_env = NULL;
    secret_free(token_ok(&o, "", NULL, 0));
    cr_assert_eq(fake_count("ok"), 1);
}

Test(secret, oauth2_credentials_from_files)
{
    char *idfile = tmp_path("client.id");
    char *secfile = tmp_path("client.secret");
    char *rfile = tmp_path("refresh.token");
    struct profile_oauth2 o;
    struct pb_err err;

    fake_start(confidential);
    memset(&o, 0, sizeof(o));
    o.token_url = token_url;
    o.client_id_file = idfile;
    o.client_secret_file = secfile;
    o.refresh_token_file = rfile;
    o.scope = SCOPE;
    testdata_write_mode(idfile, CLIENT_ID "\n", strlen(CLIENT_ID) + 1, 0600);
    testdata_write_mode(secfile, CLIENT_SECRET "\r\n",
                        strlen(CLIENT_SECRET) + 2, 0600);
    testdata_write_mode(rfile, REFRESH, strlen(REFRESH), 0644);
    token_fails(&o, "", PB_STAGE_CONFIG, PB_E_IO, "chmod 600", &err);
    cr_assert(strncmp(err.msg, "oauth2.refresh_token_file: ", 27) == 0, "%s",
              err.msg);
    cr_assert_eq(fake_count(""), 0, "no request without the credentials");
    cr_assert_eq(chmod(rfile, 0600), 0);
    secret_free(token_ok(&o, "", NULL, 0));
    cr_assert_eq(fake_count("ok"), 1);
}

Test(secret, oauth2_missing_env_credential_names_it)
{
    struct profile_oauth2 o;
    struct pb_err err;

    snprintf(token_url, sizeof(token_url), "http://127.0.6.1:9/token");
    o = oauth2_env();
    unsetenv("PROBE_T_REFRESH");
    token_fails(&o, "", PB_STAGE_CONFIG, PB_E_IO,
                "oauth2.refresh_token_env: environment variable "
                "PROBE_T_REFRESH is not set",
                &err);
}

Test(secret, oauth2_plain_http_only_to_loopback)
{
    struct profile_oauth2 o;
    struct pb_err err;

    snprintf(token_url, sizeof(token_url), "http://192.0.2.1/token");
    o = oauth2_env();
    token_fails(&o, "", PB_STAGE_CONFIG, PB_E_SYNTAX, "must be an https URL",
                &err);
    snprintf(token_url, sizeof(token_url), "ftp://127.0.0.1/token");
    token_fails(&o, "", PB_STAGE_CONFIG, PB_E_SYNTAX, "must be an https URL",
                &err);
}

Test(secret, oauth2_unreachable_endpoint_is_a_network_error)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    struct profile_oauth2 o;
    struct pb_err err;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* a port that was just free: nothing listens there */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = inet_addr("127.0.6.1");
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
    close(fd);
    snprintf(token_url, sizeof(token_url), "http://127.0.6.1:%d/token",
             ntohs(sa.sin_port));
    o = oauth2_env();
    token_fails(&o, "", PB_STAGE_AUTH, PB_E_NETWORK, "oauth2 token endpoint",
                &err);
    cr_assert_neq(err.evidence[0], '\0', "libcurl's reason as evidence");
}

Test(secret, profile_with_oauth2_gets_its_token)
{
    char text[1024];
    struct profile *p;
    struct secret *s;
    struct pb_err err;
    char warn[256];
    const char *set = "user=probe@example.com";

    fake_start(confidential);
    setenv("PROBE_T_CLIENT_SECRET", CLIENT_SECRET, 1);
    setenv("PROBE_T_REFRESH", REFRESH, 1);
    snprintf(text, sizeof(text),
             "{\"host\": \"smtp.example.com\", \"user\": \"{user}\","
             " \"oauth2\": {\"token_url\": \"http://127.0.6.1:{port}/token\","
             " \"client_id\": \"" CLIENT_ID "\","
             " \"client_secret_env\": \"PROBE_T_CLIENT_SECRET\","
             " \"refresh_token_env\": \"PROBE_T_REFRESH\","
             " \"scope\": \"" SCOPE "\"},"
             " \"variables\": {\"user\": {\"description\": \"u\"},"
             " \"port\": {\"description\": \"p\", \"default\": \"%d\"}}}",
             fake_port);
    cr_assert_eq(
        profile_parse("t", "t.json", text, strlen(text), &set, 1, &p, &err), 0,
        "%s", err.msg);
    cr_assert_eq(p->auth, SMTP_AUTH_XOAUTH2);
    cr_assert_eq(secret_for_profile(p, cachedir, &s, warn, sizeof(warn), &err),
                 0, "%s [%s]", err.msg, err.evidence);
    cr_assert_eq(strncmp(secret_data(s, NULL), "fake-access-1.", 14), 0);
    secret_free(s);
    profile_free(p);
    assert_log_clean();
}
