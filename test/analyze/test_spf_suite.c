/* SPDX-License-Identifier: MIT */
/*
 * The openspf.org SPF conformance suites (RFC 7208, and RFC 4408 as extra
 * coverage), converted to DNS fixtures by scripts/spf-suite at build time,
 * run through spf_check_host() with the fixture resolver: one parameterized
 * case per suite test, each with a fresh resolver so no cached answer or
 * lookup count leaks between tests.  Tests named in
 * test/data/spf/skip-*.txt are skipped; the skip lists' rules are checked.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "analyze.h"
#include "pb_buf.h"
#include "testdata.h"

struct spf_suite_file {
    const char *gen;     /* converted suite, under the build's test/gen */
    const char *skip;    /* its skip list, under test/data */
    int ntests;          /* tests in the YAML: a converter bug must show */
    size_t max_skips;    /* at most this many skip entries */
    const char *no_skip; /* a scenario none of whose tests may be skipped */
};

static const struct spf_suite_file rfc7208 = {
    .gen = "spf/rfc7208.json",
    .skip = "spf/skip-rfc7208.txt",
    .ntests = 203,
    .max_skips = 4,
    .no_skip = "Processing limits", /* RFC 7208 §4.6.4 is not negotiable */
};
static const struct spf_suite_file rfc4408 = {
    .gen = "spf/rfc4408.json",
    .skip = "spf/skip-rfc4408.txt",
    .ntests = 191,
    .max_skips = (size_t)-1, /* only tests RFC 7208 changed: see the file */
};

/* One suite test: indices into "scenarios" and its "tests". */
struct spf_case {
    int scenario; /* -1: the suite file could not be loaded */
    int test;
};

/* pyspf's driver sets this default explanation: "not from exp=". */
#define SUITE_DEFAULT_EXPLANATION "DEFAULT"

static cJSON *
suite_load(const struct spf_suite_file *sf)
{
    size_t len;
    char *text = testdata_read(testdata_gen_path(sf->gen), &len);
    cJSON *root;

    if (text == NULL)
        return NULL;
    root = cJSON_ParseWithLength(text, len);
    free(text);
    return root;
}

static const cJSON *
suite_scenarios(const cJSON *root)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "scenarios");

    return cJSON_IsArray(s) ? s : NULL;
}

static const cJSON *
scenario_tests(const cJSON *scenario)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(scenario, "tests");

    return cJSON_IsArray(t) ? t : NULL;
}

static const char *
json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Every test of the suite, or -1 when the file is unusable. */
static int
suite_count(const cJSON *root)
{
    const cJSON *scenarios = suite_scenarios(root);
    const cJSON *s;
    int n = 0;

    if (scenarios == NULL)
        return -1;
    cJSON_ArrayForEach(s, scenarios)
    {
        const cJSON *tests = scenario_tests(s);

        if (tests == NULL ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(s, "fixture")))
            return -1;
        n += cJSON_GetArraySize(tests);
    }
    return n;
}

/* ---------------------------------------------------------------- skips */

struct skip_entry {
    char name[128];
    bool has_reason;
};

struct skip_list {
    size_t n;
    struct skip_entry e[64];
    bool is_broken; /* unreadable, too long, or a bad line */
};

/* A skip file: `name  # reason` lines, other `#` lines are comments. */
static void
skip_load(const struct spf_suite_file *sf, struct skip_list *sl)
{
    char *text = testdata_read(testdata_path(sf->skip), NULL);
    char *line;
    char *save = NULL;

    memset(sl, 0, sizeof(*sl));
    if (text == NULL) {
        sl->is_broken = true;
        return;
    }
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        size_t len;

        if (hash != NULL)
            *hash = '\0';
        line += strspn(line, " \t\r");
        len = strcspn(line, " \t\r");
        if (len == 0)
            continue;
        if (sl->n == sizeof(sl->e) / sizeof(sl->e[0]) ||
            len >= sizeof(sl->e[0].name) ||
            line[len + strspn(line + len, " \t\r")] != '\0') {
            sl->is_broken = true;
            break;
        }
        memcpy(sl->e[sl->n].name, line, len);
        sl->e[sl->n].name[len] = '\0';
        sl->e[sl->n].has_reason =
            hash != NULL && hash[1 + strspn(hash + 1, " \t\r")] != '\0';
        sl->n++;
    }
    free(text);
}

static bool
skip_has(const struct skip_list *sl, const char *name)
{
    for (size_t i = 0; i < sl->n; i++)
        if (strcmp(sl->e[i].name, name) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------ the cases */

static void
cases_free(struct criterion_test_params *p)
{
    cr_free(p->params);
}

/* Criterion runs each case in its own process: pass indices, not pointers. */
static struct criterion_test_params
suite_cases(const struct spf_suite_file *sf)
{
    cJSON *root = suite_load(sf);
    int n = suite_count(root);
    struct spf_case *cases;
    const cJSON *s;
    int i = 0;
    int si = 0;

    if (n <= 0) {
        /* One case that reports the unusable file, rather than none. */
        cases = cr_malloc(sizeof(*cases));
        cases[0] = (struct spf_case){-1, -1};
        cJSON_Delete(root);
        return cr_make_param_array(struct spf_case, cases, 1, cases_free);
    }
    cases = cr_malloc((size_t)n * sizeof(*cases));
    cJSON_ArrayForEach(s, suite_scenarios(root))
    {
        int nt = cJSON_GetArraySize(scenario_tests(s));

        for (int ti = 0; ti < nt; ti++)
            cases[i++] = (struct spf_case){si, ti};
        si++;
    }
    cJSON_Delete(root);
    return cr_make_param_array(struct spf_case, cases, (size_t)n, cases_free);
}

/* The scenario's fixture as a file for dns_resolver_new(); path is filled. */
static int
fixture_write(const cJSON *fixture, char *path, size_t size)
{
    const char *dir = getenv("TMPDIR");
    char *text = cJSON_PrintUnformatted(fixture);
    size_t len;
    int fd;
    bool ok;

    if (text == NULL)
        return -1;
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    snprintf(path, size, "%s/probe-spf-suite-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd == -1) {
        free(text);
        return -1;
    }
    len = strlen(text);
    ok = write(fd, text, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    free(text);
    if (!ok) {
        unlink(path);
        return -1;
    }
    return 0;
}

static bool
result_is_listed(const cJSON *results, const char *got)
{
    const cJSON *r;

    cJSON_ArrayForEach(r, results)
    {
        if (cJSON_IsString(r) && strcmp(r->valuestring, got) == 0)
            return true;
    }
    return false;
}

static void
escape(char *dst, size_t size, const char *s)
{
    if (s == NULL)
        snprintf(dst, size, "(none)");
    else
        pb_escape_to(dst, size, s, strlen(s));
}

/*
 * Evaluate one test with a fresh resolver over the fixture file.  Returns
 * true when it passed; otherwise why holds the reason.
 */
static bool
case_check(const char *fixture_path, const cJSON *test, char *why, size_t size)
{
    const char *host = json_str(test, "host");
    const char *mailfrom = json_str(test, "mailfrom");
    const char *helo = json_str(test, "helo");
    const char *want_exp = json_str(test, "explanation");
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(test, "result");
    struct dns_resolver *r = NULL;
    struct spf_request req = {0};
    struct spf_check chk = {0};
    struct pb_err err;
    const char *got;
    char got_exp[256], want[256], reason[256];
    bool ok = false;

    if (host == NULL || mailfrom == NULL || helo == NULL ||
        !cJSON_IsArray(results)) {
        snprintf(why, size, "malformed test in the converted suite");
        return false;
    }
    if (ipaddr_parse(host, &req.ip) == -1) {
        snprintf(why, size, "host %s does not parse", host);
        return false;
    }
    if (dns_resolver_new(&(struct dns_options){.fixture = fixture_path}, &r,
                         &err) == -1) {
        snprintf(why, size, "fixture rejected: %s", err.msg);
        return false;
    }
    req.sender = mailfrom;
    req.helo = helo;
    if (spf_check_host(r, &req, &chk, &err) == -1) {
        snprintf(why, size, "spf_check_host failed: %s", err.msg);
        goto out;
    }
    got = spf_result_name(chk.result);
    escape(reason, sizeof(reason), chk.reason);
    escape(got_exp, sizeof(got_exp), chk.explanation);
    if (!result_is_listed(results, got)) {
        char *list = cJSON_PrintUnformatted(results);

        snprintf(why, size, "expected %s, got %s (%s; explanation %s)",
                 list != NULL ? list : "?", got, reason, got_exp);
        free(list);
        goto out;
    }
    if (want_exp != NULL && chk.result == SPF_FAIL) {
        if (strcmp(want_exp, SUITE_DEFAULT_EXPLANATION) == 0) {
            /* The suite's placeholder for the receiver's own default. */
            if (chk.explanation_from_exp) {
                snprintf(why, size, "explanation %s came from exp=", got_exp);
                goto out;
            }
        } else if (chk.explanation == NULL ||
                   strcmp(chk.explanation, want_exp) != 0) {
            escape(want, sizeof(want), want_exp);
            snprintf(why, size, "explanation %s, expected %s", got_exp, want);
            goto out;
        }
    }
    ok = true;
out:
    spf_check_release(&chk);
    dns_resolver_free(r);
    return ok;
}

static void
case_run(const struct spf_suite_file *sf, const struct spf_case *c)
{
    cJSON *root;
    const cJSON *scenario, *test;
    const char *name, *spec, *desc;
    struct skip_list skips;
    char path[4096];
    char why[1024];
    char msg[1400] = "";
    bool ok;

    cr_assert(c->scenario >= 0, "%s: missing or malformed",
              testdata_gen_path(sf->gen));
    root = suite_load(sf);
    cr_assert_not_null(root, "%s: unreadable", testdata_gen_path(sf->gen));
    scenario = cJSON_GetArrayItem(suite_scenarios(root), c->scenario);
    test = cJSON_GetArrayItem(scenario_tests(scenario), c->test);
    name = json_str(test, "name");
    spec = json_str(test, "spec");
    desc = json_str(scenario, "description");
    cr_assert_not_null(name, "%s: scenario %d test %d has no name", sf->gen,
                       c->scenario, c->test);

    skip_load(sf, &skips);
    if (skip_has(&skips, name)) {
        cJSON_Delete(root);
        cr_skip_test("listed in %s", sf->skip);
    }

    ok = fixture_write(cJSON_GetObjectItemCaseSensitive(scenario, "fixture"),
                       path, sizeof(path)) == 0;
    if (!ok) {
        snprintf(why, sizeof(why), "cannot write the fixture: %s",
                 strerror(errno));
    } else {
        ok = case_check(path, test, why, sizeof(why));
        unlink(path);
    }
    /* name and the rest live in root: format before releasing it. */
    if (!ok)
        snprintf(msg, sizeof(msg), "%s [%s] in \"%s\": %s", name,
                 spec != NULL ? spec : "-", desc != NULL ? desc : "?", why);
    cJSON_Delete(root);
    cr_assert(ok, "%s", msg);
}

ParameterizedTestParameters(spf_suite, rfc7208)
{
    return suite_cases(&rfc7208);
}

ParameterizedTest(struct spf_case *c, spf_suite, rfc7208)
{
    case_run(&rfc7208, c);
}

ParameterizedTestParameters(spf_suite, rfc4408)
{
    return suite_cases(&rfc4408);
}

ParameterizedTest(struct spf_case *c, spf_suite, rfc4408)
{
    case_run(&rfc4408, c);
}

/* ------------------------------------------------- the files themselves */

static void
check_count(const struct spf_suite_file *sf)
{
    cJSON *root = suite_load(sf);
    int n = suite_count(root);

    cJSON_Delete(root);
    cr_expect_eq(n, sf->ntests, "%s holds %d tests, the YAML has %d", sf->gen,
                 n, sf->ntests);
}

Test(spf_suite, conversion_keeps_every_test)
{
    check_count(&rfc7208);
    check_count(&rfc4408);
}

/* The scenario holding the test called name, or NULL when there is none. */
static const char *
test_scenario(const cJSON *root, const char *name)
{
    const cJSON *s, *t;

    cJSON_ArrayForEach(s, suite_scenarios(root))
    {
        cJSON_ArrayForEach(t, scenario_tests(s))
        {
            const char *tn = json_str(t, "name");

            if (tn != NULL && strcmp(tn, name) == 0) {
                const char *d = json_str(s, "description");

                return d != NULL ? d : "";
            }
        }
    }
    return NULL;
}

static void
check_skips(const struct spf_suite_file *sf)
{
    cJSON *root = suite_load(sf);
    struct skip_list skips;

    cr_assert_not_null(root, "%s: unreadable", sf->gen);
    skip_load(sf, &skips);
    cr_expect(!skips.is_broken, "%s: unreadable or a bad line", sf->skip);
    cr_expect(skips.n <= sf->max_skips, "%s: %zu entries, at most %zu",
              sf->skip, skips.n, sf->max_skips);
    for (size_t i = 0; i < skips.n; i++) {
        const char *name = skips.e[i].name;
        const char *scenario = test_scenario(root, name);

        cr_expect(skips.e[i].has_reason, "%s: %s has no `# reason`", sf->skip,
                  name);
        cr_expect_not_null(scenario, "%s: no test %s in %s", sf->skip, name,
                           sf->gen);
        if (scenario != NULL && sf->no_skip != NULL)
            cr_expect(strcmp(scenario, sf->no_skip) != 0,
                      "%s: %s is in \"%s\", which may not be skipped", sf->skip,
                      name, sf->no_skip);
    }
    cJSON_Delete(root);
}

Test(spf_suite, skip_lists_follow_their_rules)
{
    check_skips(&rfc7208);
    check_skips(&rfc4408);
}
