/* SPDX-License-Identifier: MIT */
/*
 * `probe health --config FILE`: the named checks of a config (domain
 * audits and probe runs), each run as a child `probe check` / `probe send`
 * with a JSON report, compared with the last run in the history database,
 * one monitoring-plugins line, alerts on change only, Prometheus metrics.
 * docs/health.md is the config schema and the behaviour.
 */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "alert.h"
#include "cli.h"
#include "history.h"
#include "pb_buf.h"
#include "pb_clock.h"
#include "pb_jpath.h"
#include "pb_log.h"
#include "pb_signal.h"
#include "pb_text.h"
#include "pb_xalloc.h"
#include "report.h"

static const char usage[] =
    "Usage: probe health --config FILE [--prom FILE] [--history FILE] "
    "[-v]\n"
    "\n"
    "Run the named checks of a config (domain audits and probe runs) for "
    "cron or\n"
    "a monitoring system, record them in a history database, and print one\n"
    "monitoring-plugins line:\n"
    "\n"
    "  PROBE OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata\n"
    "\n"
    "Changes against the previous run are named: a new failure (new: spf), "
    "a\n"
    "recovery (recovered: spf), a changed record (changed: dmarc.policy "
    "none ->\n"
    "reject).  A change posts one alert to the config's webhook; an alert "
    "that\n"
    "cannot be delivered stays in the database and goes out with the next "
    "run.\n"
    "\n"
    "  --config FILE    the checks (JSON, docs/health.md)\n"
    "  --prom FILE      also write Prometheus textfile-collector metrics "
    "there\n"
    "                   (atomically: a temporary file, fsync, rename)\n"
    "  --history FILE   the history database (default: the config's "
    "\"history\",\n"
    "                   else $PROBE_STATE_DIR/history.db,\n"
    "                   $XDG_STATE_HOME/probe/history.db, "
    "/var/lib/probe/history.db\n"
    "                   as root, ~/.local/state/probe/history.db)\n"
    "  -v, --verbose    log what runs on stderr\n"
    "  -h, --help       this text\n"
    "\n"
    "One run at a time: a second one exits UNKNOWN \"already running\" "
    "(or waits\n"
    "up to the config's lock_wait seconds).  SIGTERM stops the check under "
    "way\n"
    "(it says QUIT and LOGOUT), records the run as aborted and releases the\n"
    "lock.  Timestamps are UTC.  Works in cron's environment (no HOME, no "
    "TTY).\n"
    "\n"
    "Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (a check could not "
    "run,\n"
    "bad config, the history database cannot be written, already "
    "running).\n"
    "\n"
    "Example (crontab): 0 * * * * probe health --config "
    "/etc/probe/health.json\n";

/* A config file is a few KB; 1 MiB is room for hundreds of checks. */
#define HEALTH_LIMIT_CONFIG (1024u * 1024)
#define HEALTH_MAX_CHECKS   256
#define HEALTH_MAX_LIST     64
/* What a child may print: a probe report with transcripts. */
#define HEALTH_LIMIT_CHILD  (64u * 1024 * 1024)
#define HEALTH_LIMIT_STDERR 8192
/* After SIGTERM, how long a child may take to end before SIGKILL. */
#define HEALTH_TERM_GRACE_S 30

enum hc_kind { HC_AUDIT = 0, HC_PROBE };

struct hc_check {
    char *name;
    enum hc_kind kind;
    char *dns_server;
    char *dns_fixture;
    long timeout_s;
    /* audit */
    char *domain;
    char *ips[HEALTH_MAX_LIST];
    size_t nips;
    char *selectors[HEALTH_MAX_LIST];
    size_t nselectors;
    char *checks;
    long spf_lookups_warning; /* 0: none */
    /* probe */
    char *relay, *to, *from, *dkim_key, *dkim_selector, *bounce_mailbox;
    char *sets[HEALTH_MAX_LIST];
    size_t nsets;
    long wait_s;
    /* the status of each outcome (verdict.h names) */
    enum history_status on_outcome[8];
};

static const char *const outcome_names[8] = {
    "inbox",    "spam",    "rejected", "bounced",
    "deferred", "missing", "error",    "accepted",
};

struct hc_config {
    char *path;
    char *history;
    char *prom;
    long lock_wait_s;
    char *webhook_url;
    char *webhook_url_env;
    long webhook_timeout_s;
    long webhook_retries;
    char *dns_server;
    char *dns_fixture;
    struct hc_check *v;
    size_t n;
};

/* ------------------------------------------------------------------ */
/* The config                                                          */

struct hc_load {
    struct hc_config *cfg;
    struct pb_jpath jp;
    char msg[512];
};

static int __attribute__((format(printf, 2, 3)))
hc_fail(struct hc_load *ld, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(ld->msg, sizeof(ld->msg), "%.200s: %.120s: %.150s", ld->cfg->path,
             ld->jp.p, why);
    return -1;
}

static int
hc_str(struct hc_load *ld, const cJSON *j, char **dst)
{
    const char *s = cJSON_GetStringValue(j);

    if (s == NULL || s[0] == '\0')
        return hc_fail(ld, "expected a non-empty string");
    if (strlen(s) > 4096 || pb_text_check(s, strlen(s)) != NULL)
        return hc_fail(ld, "expected one line of text (at most 4096 "
                           "octets, no control characters)");
    free(*dst);
    *dst = pb_xstrdup(s);
    return 0;
}

static int
hc_int(struct hc_load *ld, const cJSON *j, long min, long max, long *dst)
{
    double d;

    if (!cJSON_IsNumber(j))
        return hc_fail(ld, "expected a number from %ld to %ld", min, max);
    d = j->valuedouble;
    if (d != (double)(long)d || d < (double)min || d > (double)max)
        return hc_fail(ld, "expected a whole number from %ld to %ld", min, max);
    *dst = (long)d;
    return 0;
}

static int
hc_strs(struct hc_load *ld, const cJSON *j, char **dst, size_t *n)
{
    const cJSON *e;
    size_t i = 0;

    if (!cJSON_IsArray(j))
        return hc_fail(ld, "expected an array of strings");
    cJSON_ArrayForEach(e, j)
    {
        size_t old = pb_jpath_index(&ld->jp, i);

        if (i == HEALTH_MAX_LIST)
            return hc_fail(ld, "at most %d entries", HEALTH_MAX_LIST);
        dst[i] = NULL;
        if (hc_str(ld, e, &dst[i]) < 0)
            return -1;
        *n = ++i;
        pb_jpath_pop(&ld->jp, old);
    }
    return 0;
}

static int
hc_status_word(const char *s, enum history_status *out)
{
    static const char *const w[] = {"ok", "warning", "critical", "unknown"};

    for (int i = 0; i < 4; i++)
        if (s != NULL && strcmp(s, w[i]) == 0) {
            *out = (enum history_status)i;
            return 0;
        }
    return -1;
}

/* Check that j has only the keys of known[]. */
static int
hc_keys(struct hc_load *ld, const cJSON *j, const char *const *known, size_t n)
{
    const cJSON *e;

    if (!cJSON_IsObject(j))
        return hc_fail(ld, "expected an object");
    cJSON_ArrayForEach(e, j)
    {
        bool ok = false;

        for (size_t i = 0; i < n; i++)
            ok |= strcmp(e->string, known[i]) == 0;
        if (!ok) {
            size_t old = pb_jpath_key(&ld->jp, e->string);
            int rc = hc_fail(ld, "unknown key");

            pb_jpath_pop(&ld->jp, old);
            return rc;
        }
    }
    return 0;
}

static int
hc_load_audit(struct hc_load *ld, const cJSON *j, struct hc_check *c)
{
    static const char *const keys[] = {"domain", "ips", "selectors", "checks",
                                       "spf_lookups_warning"};
    const cJSON *e;

    if (hc_keys(ld, j, keys, 5) < 0)
        return -1;
    cJSON_ArrayForEach(e, j)
    {
        size_t old = pb_jpath_key(&ld->jp, e->string);
        int rc = 0;

        if (strcmp(e->string, "domain") == 0)
            rc = hc_str(ld, e, &c->domain);
        else if (strcmp(e->string, "ips") == 0)
            rc = hc_strs(ld, e, c->ips, &c->nips);
        else if (strcmp(e->string, "selectors") == 0)
            rc = hc_strs(ld, e, c->selectors, &c->nselectors);
        else if (strcmp(e->string, "checks") == 0)
            rc = hc_str(ld, e, &c->checks);
        else
            rc = hc_int(ld, e, 1, 10, &c->spf_lookups_warning);
        if (rc < 0)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    if (c->domain == NULL)
        return hc_fail(ld, "`domain` is required");
    return 0;
}

static int
hc_load_probe(struct hc_load *ld, const cJSON *j, struct hc_check *c)
{
    static const char *const keys[] = {
        "relay", "to",   "from",           "dkim_key", "dkim_selector",
        "set",   "wait", "bounce_mailbox", "outcomes"};
    const cJSON *e;

    if (hc_keys(ld, j, keys, 9) < 0)
        return -1;
    cJSON_ArrayForEach(e, j)
    {
        size_t old = pb_jpath_key(&ld->jp, e->string);
        int rc = 0;

        if (strcmp(e->string, "relay") == 0)
            rc = hc_str(ld, e, &c->relay);
        else if (strcmp(e->string, "to") == 0)
            rc = hc_str(ld, e, &c->to);
        else if (strcmp(e->string, "from") == 0)
            rc = hc_str(ld, e, &c->from);
        else if (strcmp(e->string, "dkim_key") == 0)
            rc = hc_str(ld, e, &c->dkim_key);
        else if (strcmp(e->string, "dkim_selector") == 0)
            rc = hc_str(ld, e, &c->dkim_selector);
        else if (strcmp(e->string, "bounce_mailbox") == 0)
            rc = hc_str(ld, e, &c->bounce_mailbox);
        else if (strcmp(e->string, "set") == 0)
            rc = hc_strs(ld, e, c->sets, &c->nsets);
        else if (strcmp(e->string, "wait") == 0)
            rc = hc_int(ld, e, 0, 3600, &c->wait_s);
        else {
            const cJSON *o;

            if (!cJSON_IsObject(e))
                rc = hc_fail(ld, "expected an object: outcome -> status");
            cJSON_ArrayForEach(o, e)
            {
                int k = -1;

                for (int i = 0; i < 8 && rc == 0; i++)
                    if (strcmp(o->string, outcome_names[i]) == 0)
                        k = i;
                if (rc == 0 && k < 0)
                    rc = hc_fail(ld,
                                 "unknown outcome `%.40s` (inbox, spam, "
                                 "rejected, bounced, deferred, missing, "
                                 "error, accepted)",
                                 o->string);
                if (rc == 0 && hc_status_word(cJSON_GetStringValue(o),
                                              &c->on_outcome[k]) < 0)
                    rc = hc_fail(ld,
                                 "the status of `%.40s` must be ok, "
                                 "warning, critical or unknown",
                                 o->string);
            }
        }
        if (rc < 0)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    if (c->relay == NULL || c->to == NULL)
        return hc_fail(ld, "`relay` and `to` are required");
    if ((c->dkim_key == NULL) != (c->dkim_selector == NULL))
        return hc_fail(ld, "give both `dkim_key` and `dkim_selector`");
    return 0;
}

static int
hc_load_check(struct hc_load *ld, const cJSON *j, struct hc_check *c)
{
    static const char *const keys[] = {"name",       "audit",       "probe",
                                       "dns_server", "dns_fixture", "timeout"};
    const cJSON *e, *a, *p;

    /* the default statuses of the outcomes */
    c->on_outcome[0] = HISTORY_OK;
    c->on_outcome[1] = HISTORY_WARNING;
    c->on_outcome[2] = HISTORY_CRITICAL;
    c->on_outcome[3] = HISTORY_CRITICAL;
    c->on_outcome[4] = HISTORY_WARNING;
    c->on_outcome[5] = HISTORY_CRITICAL;
    c->on_outcome[6] = HISTORY_UNKNOWN;
    c->on_outcome[7] = HISTORY_OK;
    c->timeout_s = 600;
    c->wait_s = 60;
    if (hc_keys(ld, j, keys, 6) < 0)
        return -1;
    if ((e = cJSON_GetObjectItemCaseSensitive(j, "dns_fixture")) != NULL) {
        size_t old = pb_jpath_key(&ld->jp, "dns_fixture");

        if (hc_str(ld, e, &c->dns_fixture) < 0)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    e = cJSON_GetObjectItemCaseSensitive(j, "name");
    {
        size_t old = pb_jpath_key(&ld->jp, "name");

        if (e == NULL)
            return hc_fail(ld, "every check needs a name");
        if (hc_str(ld, e, &c->name) < 0)
            return -1;
        if (strlen(c->name) > 64)
            return hc_fail(ld, "at most 64 octets");
        pb_jpath_pop(&ld->jp, old);
    }
    if ((e = cJSON_GetObjectItemCaseSensitive(j, "dns_server")) != NULL) {
        size_t old = pb_jpath_key(&ld->jp, "dns_server");

        if (hc_str(ld, e, &c->dns_server) < 0)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    if ((e = cJSON_GetObjectItemCaseSensitive(j, "timeout")) != NULL) {
        size_t old = pb_jpath_key(&ld->jp, "timeout");

        if (hc_int(ld, e, 1, 86400, &c->timeout_s) < 0)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    a = cJSON_GetObjectItemCaseSensitive(j, "audit");
    p = cJSON_GetObjectItemCaseSensitive(j, "probe");
    if ((a == NULL) == (p == NULL))
        return hc_fail(ld, "a check has exactly one of `audit` and `probe`");
    {
        size_t old = pb_jpath_key(&ld->jp, a ? "audit" : "probe");
        int rc;

        c->kind = a ? HC_AUDIT : HC_PROBE;
        rc = a ? hc_load_audit(ld, a, c) : hc_load_probe(ld, p, c);
        if (rc < 0)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    return 0;
}

static int
hc_load_webhook(struct hc_load *ld, const cJSON *j, struct hc_config *cfg)
{
    static const char *const keys[] = {"url", "url_env", "timeout", "retries"};
    const cJSON *e;

    if (hc_keys(ld, j, keys, 4) < 0)
        return -1;
    cJSON_ArrayForEach(e, j)
    {
        size_t old = pb_jpath_key(&ld->jp, e->string);
        int rc;

        if (strcmp(e->string, "url") == 0)
            rc = hc_str(ld, e, &cfg->webhook_url);
        else if (strcmp(e->string, "url_env") == 0)
            rc = hc_str(ld, e, &cfg->webhook_url_env);
        else if (strcmp(e->string, "timeout") == 0)
            rc = hc_int(ld, e, 1, 600, &cfg->webhook_timeout_s);
        else
            rc = hc_int(ld, e, 1, 10, &cfg->webhook_retries);
        if (rc < 0)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    if ((cfg->webhook_url == NULL) == (cfg->webhook_url_env == NULL))
        return hc_fail(ld, "give exactly one of `url` and `url_env` (a "
                           "webhook URL is a secret: url_env keeps it out "
                           "of the file)");
    return 0;
}

static void
hc_config_free(struct hc_config *cfg)
{
    for (size_t i = 0; i < cfg->n; i++) {
        struct hc_check *c = &cfg->v[i];

        free(c->name);
        free(c->dns_server);
        free(c->dns_fixture);
        free(c->domain);
        for (size_t k = 0; k < c->nips; k++)
            free(c->ips[k]);
        for (size_t k = 0; k < c->nselectors; k++)
            free(c->selectors[k]);
        free(c->checks);
        free(c->relay);
        free(c->to);
        free(c->from);
        free(c->dkim_key);
        free(c->dkim_selector);
        free(c->bounce_mailbox);
        for (size_t k = 0; k < c->nsets; k++)
            free(c->sets[k]);
    }
    free(cfg->v);
    free(cfg->path);
    free(cfg->history);
    free(cfg->prom);
    free(cfg->webhook_url);
    free(cfg->webhook_url_env);
    free(cfg->dns_server);
    free(cfg->dns_fixture);
    memset(cfg, 0, sizeof(*cfg));
}

static int
hc_config_load(const char *path, struct hc_config *cfg, char *msg,
               size_t msgsize)
{
    static const char *const keys[] = {"history", "prom",       "lock_wait",
                                       "webhook", "dns_server", "dns_fixture",
                                       "checks"};
    struct hc_load ld = {.cfg = cfg};
    struct pb_buf b;
    cJSON *root = NULL;
    const cJSON *e;
    int fd, rc = -1;

    memset(cfg, 0, sizeof(*cfg));
    cfg->path = pb_xstrdup(path);
    cfg->webhook_timeout_s = 10;
    cfg->webhook_retries = 3;
    pb_jpath_init(&ld.jp, "$", PB_JPATH_BRACKET);
    pb_buf_init(&b, HEALTH_LIMIT_CONFIG);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msgsize, "%.300s: cannot open: %s", path,
                 strerror(errno));
        goto out;
    }
    rc = pb_buf_read_fd(&b, fd);
    close(fd);
    if (rc < 0) {
        snprintf(msg, msgsize, "%.300s: %s", path,
                 rc == -2 ? "larger than 1 MiB" : "cannot read");
        rc = -1;
        goto out;
    }
    rc = -1;
    if (pb_text_json_nul(pb_buf_ptr(&b), b.len) != b.len) {
        snprintf(msg, msgsize, "%.300s: holds a NUL", path);
        goto out;
    }
    root = cJSON_ParseWithLength(pb_buf_ptr(&b), b.len);
    if (root == NULL) {
        size_t line, col, off = (size_t)(cJSON_GetErrorPtr() - pb_buf_ptr(&b));

        pb_text_line_col(pb_buf_ptr(&b), b.len, off < b.len ? off : b.len,
                         &line, &col);
        snprintf(msg, msgsize, "%.300s:%zu:%zu: not valid JSON", path, line,
                 col);
        goto out;
    }
    if (hc_keys(&ld, root, keys, 7) < 0)
        goto fail;
    cJSON_ArrayForEach(e, root)
    {
        size_t old = pb_jpath_key(&ld.jp, e->string);
        int r;

        if (strcmp(e->string, "history") == 0)
            r = hc_str(&ld, e, &cfg->history);
        else if (strcmp(e->string, "prom") == 0)
            r = hc_str(&ld, e, &cfg->prom);
        else if (strcmp(e->string, "lock_wait") == 0)
            r = hc_int(&ld, e, 0, 86400, &cfg->lock_wait_s);
        else if (strcmp(e->string, "webhook") == 0)
            r = hc_load_webhook(&ld, e, cfg);
        else if (strcmp(e->string, "dns_server") == 0)
            r = hc_str(&ld, e, &cfg->dns_server);
        else if (strcmp(e->string, "dns_fixture") == 0)
            r = hc_str(&ld, e, &cfg->dns_fixture);
        else {
            const cJSON *c;
            size_t i = 0;

            r = 0;
            if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) == 0)
                r = hc_fail(&ld, "expected a non-empty array of checks");
            else if (cJSON_GetArraySize(e) > HEALTH_MAX_CHECKS)
                r = hc_fail(&ld, "at most %d checks", HEALTH_MAX_CHECKS);
            if (r == 0)
                cfg->v =
                    pb_xcalloc((size_t)cJSON_GetArraySize(e), sizeof(*cfg->v));
            cJSON_ArrayForEach(c, e)
            {
                size_t o2 = pb_jpath_index(&ld.jp, i);

                if (r < 0)
                    break;
                cfg->n = ++i;
                r = hc_load_check(&ld, c, &cfg->v[i - 1]);
                for (size_t k = 0; r == 0 && k + 1 < i; k++)
                    if (strcmp(cfg->v[k].name, cfg->v[i - 1].name) == 0)
                        r = hc_fail(&ld, "the name `%.64s` is used twice",
                                    cfg->v[k].name);
                pb_jpath_pop(&ld.jp, o2);
            }
        }
        if (r < 0)
            goto fail;
        pb_jpath_pop(&ld.jp, old);
    }
    if (cfg->n == 0) {
        snprintf(msg, msgsize, "%.300s: no checks (\"checks\": [...])", path);
        goto out;
    }
    rc = 0;
    goto out;
fail:
    snprintf(msg, msgsize, "%s", ld.msg);
out:
    cJSON_Delete(root);
    pb_buf_release(&b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Running a check: a child probe with a JSON report                   */

struct hc_child {
    struct pb_buf out;
    char err_tail[HEALTH_LIMIT_STDERR + 1];
    size_t err_len;
    int status;  /* exit code, or 128 + signal */
    bool is_cut; /* more than HEALTH_LIMIT_CHILD: not parsed */
    bool is_timed_out;
    bool is_stopped; /* a signal asked us to stop */
};

static void
argv_add(char ***argv, size_t *n, const char *s)
{
    *argv = pb_xreallocarray(*argv, *n + 2, sizeof(**argv));
    (*argv)[(*n)++] = pb_xstrdup(s);
    (*argv)[*n] = NULL;
}

static char **
hc_argv(const struct hc_config *cfg, const struct hc_check *c)
{
    const char *dns = c->dns_server ? c->dns_server : cfg->dns_server;
    const char *fix = c->dns_fixture ? c->dns_fixture : cfg->dns_fixture;
    char **av = NULL;
    size_t n = 0;
    char num[32];

    argv_add(&av, &n, "probe");
    if (c->kind == HC_AUDIT) {
        argv_add(&av, &n, "check");
        argv_add(&av, &n, c->domain);
        for (size_t i = 0; i < c->nips; i++) {
            argv_add(&av, &n, "--ip");
            argv_add(&av, &n, c->ips[i]);
        }
        for (size_t i = 0; i < c->nselectors; i++) {
            argv_add(&av, &n, "--selector");
            argv_add(&av, &n, c->selectors[i]);
        }
        if (c->checks != NULL) {
            argv_add(&av, &n, "--checks");
            argv_add(&av, &n, c->checks);
        }
        argv_add(&av, &n, "--json");
    } else {
        argv_add(&av, &n, "send");
        argv_add(&av, &n, "--relay");
        argv_add(&av, &n, c->relay);
        argv_add(&av, &n, "--to");
        argv_add(&av, &n, c->to);
        if (c->from != NULL) {
            argv_add(&av, &n, "--from");
            argv_add(&av, &n, c->from);
        }
        if (c->dkim_key != NULL) {
            argv_add(&av, &n, "--dkim-key");
            argv_add(&av, &n, c->dkim_key);
            argv_add(&av, &n, "--dkim-selector");
            argv_add(&av, &n, c->dkim_selector);
        }
        if (c->bounce_mailbox != NULL) {
            argv_add(&av, &n, "--bounce-mailbox");
            argv_add(&av, &n, c->bounce_mailbox);
        }
        for (size_t i = 0; i < c->nsets; i++) {
            argv_add(&av, &n, "--set");
            argv_add(&av, &n, c->sets[i]);
        }
        snprintf(num, sizeof(num), "%ld", c->wait_s);
        argv_add(&av, &n, "--wait");
        argv_add(&av, &n, num);
        argv_add(&av, &n, "--json");
        argv_add(&av, &n, "-");
    }
    /* a check's own DNS wins over the config's */
    if (c->dns_fixture != NULL || (fix != NULL && c->dns_server == NULL)) {
        argv_add(&av, &n, "--dns-fixture");
        argv_add(&av, &n, fix);
    } else if (dns != NULL) {
        argv_add(&av, &n, "--dns-server");
        argv_add(&av, &n, dns);
    }
    return av;
}

static void
argv_free(char **av)
{
    for (size_t i = 0; av != NULL && av[i] != NULL; i++)
        free(av[i]);
    free(av);
}

static int
pipe_cloexec(int fd[2])
{
    if (pipe(fd) < 0)
        return -1;
    fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* Read what the child writes until it exits (bounded), forwarding a
   stop to it. */
static int
hc_child_run(char **av, long timeout_s, struct hc_child *ch)
{
    int po[2], pe[2];
    pid_t pid;
    double deadline = pb_clock_mono_s() + (double)timeout_s, term_at = 0;
    bool out_open = true, err_open = true;
    int wst = 0;

    memset(ch, 0, sizeof(*ch));
    pb_buf_init(&ch->out, HEALTH_LIMIT_CHILD);
    if (pipe_cloexec(po) < 0)
        return -1;
    if (pipe_cloexec(pe) < 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        return -1;
    }
    if (pid == 0) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        dup2(po[1], STDOUT_FILENO);
        dup2(pe[1], STDERR_FILENO);
        execv("/proc/self/exe", av);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    while (out_open || err_open) {
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        double now = pb_clock_mono_s();
        char buf[65536];

        if ((pb_signal_stopping() || now >= deadline) && term_at == 0) {
            ch->is_stopped = pb_signal_stopping();
            ch->is_timed_out = !ch->is_stopped;
            kill(pid, SIGTERM);
            term_at = now;
        }
        if (term_at != 0 && now - term_at > HEALTH_TERM_GRACE_S)
            kill(pid, SIGKILL);
        fds[0].fd = out_open ? po[0] : -1;
        fds[1].fd = err_open ? pe[0] : -1;
        if (poll(fds, 2, 500) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < 2; k++) {
            ssize_t r;

            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP)))
                continue;
            r = read(fds[k].fd, buf, sizeof(buf));
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                if (k == 0)
                    out_open = false;
                else
                    err_open = false;
                continue;
            }
            if (k == 0) {
                /* past the limit: the report is cut and not parsed */
                if (pb_buf_add(&ch->out, buf, (size_t)r) < 0)
                    ch->is_cut = true;
            } else {
                /* keep the tail: the last line is the reason */
                size_t keep = (size_t)r > HEALTH_LIMIT_STDERR
                                  ? HEALTH_LIMIT_STDERR
                                  : (size_t)r;

                if (ch->err_len + keep > HEALTH_LIMIT_STDERR) {
                    size_t drop = ch->err_len + keep - HEALTH_LIMIT_STDERR;

                    memmove(ch->err_tail, ch->err_tail + drop,
                            ch->err_len - drop);
                    ch->err_len -= drop;
                }
                memcpy(ch->err_tail + ch->err_len, buf + (size_t)r - keep,
                       keep);
                ch->err_len += keep;
                ch->err_tail[ch->err_len] = '\0';
            }
        }
    }
    close(po[0]);
    close(pe[0]);
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    ch->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
    return 0;
}

/* The last non-empty line of the child's stderr, escaped. */
static void
hc_child_reason(const struct hc_child *ch, char *dst, size_t size)
{
    size_t end = ch->err_len, start;

    while (end > 0 &&
           (ch->err_tail[end - 1] == '\n' || ch->err_tail[end - 1] == '\r'))
        end--;
    start = end;
    while (start > 0 && ch->err_tail[start - 1] != '\n')
        start--;
    if (end == start) {
        snprintf(dst, size, "exit status %d and no message", ch->status);
        return;
    }
    pb_escape_to(dst, size, ch->err_tail + start, end - start);
}

/* ------------------------------------------------------------------ */
/* Findings and facts from the reports                                 */

struct hc_result {
    struct history_check hc;
    size_t cap_f, cap_x;
    /* changes against the previous run */
    char changes[512];
    bool has_changes;
    /* for the metrics */
    double spf_lookups;
    bool has_spf_lookups;
    size_t outcome_count[8];
};

static void
finding_add(struct hc_result *r, const char *key, int sev, const char *summary)
{
    struct history_check *h = &r->hc;

    for (size_t i = 0; i < h->nfindings; i++)
        if (strcmp(h->findings[i].key, key) == 0) {
            if (sev > h->findings[i].severity)
                h->findings[i].severity = sev;
            return;
        }
    h->findings =
        pb_xgrow(h->findings, h->nfindings, &r->cap_f, 8, sizeof(*h->findings));
    h->findings[h->nfindings].key = pb_xstrdup(key);
    h->findings[h->nfindings].severity = sev;
    h->findings[h->nfindings].summary = pb_xstrdup(summary);
    h->nfindings++;
}

static void
fact_add(struct hc_result *r, const char *key, const char *value)
{
    struct history_check *h = &r->hc;

    h->facts = pb_xgrow(h->facts, h->nfacts, &r->cap_x, 8, sizeof(*h->facts));
    h->facts[h->nfacts].key = pb_xstrdup(key);
    h->facts[h->nfacts].value = pb_xstrdup(value);
    h->nfacts++;
}

static const char *
jstr(const cJSON *o, const char *key)
{
    const char *s =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

    return s ? s : "";
}

/* A short fingerprint of a record, to notice that it changed. */
static void
fingerprint(const char *s, char *dst, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 6 && i * 2 + 2 < size; i++)
        snprintf(dst + i * 2, 3, "%02x", md[i]);
}

static void
hc_from_audit(const struct hc_check *c, const cJSON *doc, struct hc_result *r)
{
    static const char *const names[] = {"spf", "dkim", "dmarc",
                                        "mx",  "ptr",  "dnsbl"};
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(doc, "checks");
    const char *st = jstr(doc, "status");
    const cJSON *x;
    char buf[160];

    r->hc.status = strcmp(st, "ok") == 0     ? HISTORY_OK
                   : strcmp(st, "warn") == 0 ? HISTORY_WARNING
                   : strcmp(st, "fail") == 0 ? HISTORY_CRITICAL
                                             : HISTORY_UNKNOWN;
    for (size_t i = 0; i < 6; i++) {
        const cJSON *ck = cJSON_GetObjectItemCaseSensitive(checks, names[i]);
        const cJSON *f;

        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(ck, "findings"))
        {
            const char *sev = jstr(f, "severity");
            int s = strcmp(sev, "fail") == 0    ? HISTORY_CRITICAL
                    : strcmp(sev, "warn") == 0  ? HISTORY_WARNING
                    : strcmp(sev, "error") == 0 ? HISTORY_UNKNOWN
                                                : -1;
            char key[200];

            if (s < 0)
                continue;
            snprintf(key, sizeof(key), "%s/%.150s", names[i], jstr(f, "id"));
            finding_add(r, key, s, jstr(f, "message"));
        }
    }
    /* facts whose change is worth an alert */
    x = cJSON_GetObjectItemCaseSensitive(checks, "spf");
    if (x != NULL) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(x, "dns_lookups");
        const char *rec = jstr(x, "record");

        if (cJSON_IsNumber(n)) {
            snprintf(buf, sizeof(buf), "%d", n->valueint);
            fact_add(r, "spf.lookups", buf);
            r->spf_lookups = n->valuedouble;
            r->has_spf_lookups = true;
            if (c->spf_lookups_warning > 0 &&
                n->valueint >= c->spf_lookups_warning && n->valueint <= 10) {
                snprintf(buf, sizeof(buf),
                         "SPF needs %d of the 10 DNS lookups allowed "
                         "(warning from %ld)",
                         n->valueint, c->spf_lookups_warning);
                finding_add(r, "spf/lookups-near-limit", HISTORY_WARNING, buf);
                if (r->hc.status == HISTORY_OK)
                    r->hc.status = HISTORY_WARNING;
            }
        }
        fingerprint(rec, buf, sizeof(buf));
        fact_add(r, "spf.record", rec[0] ? buf : "none");
    }
    x = cJSON_GetObjectItemCaseSensitive(checks, "dkim");
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(x, "selectors"))
    {
        char key[160];
        const char *rec = jstr(x, "record");

        snprintf(key, sizeof(key), "dkim.%.100s.key", jstr(x, "selector"));
        if (rec[0] != '\0')
            fingerprint(rec, buf, sizeof(buf));
        else
            snprintf(buf, sizeof(buf), "%.100s", jstr(x, "lookup"));
        fact_add(r, key, buf);
    }
    x = cJSON_GetObjectItemCaseSensitive(checks, "dmarc");
    if (x != NULL) {
        const cJSON *pol = cJSON_GetObjectItemCaseSensitive(x, "policy");
        const char *eff = jstr(pol, "effective");

        fact_add(r, "dmarc.policy", eff[0] ? eff : "none");
        fingerprint(jstr(x, "record"), buf, sizeof(buf));
        fact_add(r, "dmarc.record", jstr(x, "record")[0] ? buf : "none");
    }
}

static void
hc_from_probe(const struct hc_check *c, const cJSON *doc, struct hc_result *r)
{
    const cJSON *s;

    r->hc.status = HISTORY_OK;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "seeds"))
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "verdict");
        const char *out = jstr(v, "outcome"), *cat = jstr(v, "category");
        const char *addr = jstr(s, "address");
        enum history_status st = HISTORY_UNKNOWN;
        bool clean = cJSON_IsTrue(
            cJSON_GetObjectItemCaseSensitive(v, "authenticated_aligned"));
        char key[400], sum[600], fact[300];

        for (int k = 0; k < 8; k++)
            if (strcmp(out, outcome_names[k]) == 0) {
                st = c->on_outcome[k];
                r->outcome_count[k]++;
            }
        /* in the inbox but not aligned: a warning at least */
        if (strcmp(out, "inbox") == 0 && !clean && st < HISTORY_WARNING)
            st = HISTORY_WARNING;
        snprintf(fact, sizeof(fact), "seed.%.250s.outcome", addr);
        fact_add(r, fact, out);
        if (st > r->hc.status && st != HISTORY_UNKNOWN)
            r->hc.status = st;
        else if (st == HISTORY_UNKNOWN && r->hc.status == HISTORY_OK)
            r->hc.status = HISTORY_UNKNOWN;
        if (st == HISTORY_OK)
            continue;
        snprintf(key, sizeof(key), "seed/%.250s/%.60s", addr,
                 cat[0] ? cat : out);
        snprintf(sum, sizeof(sum), "%.250s %.20s%s%.40s: %.250s", addr, out,
                 cat[0] ? ", " : "", cat, jstr(v, "summary"));
        finding_add(r, key, (int)st, sum);
    }
}

/* The label of a finding in "new: ..." lists: its key's last part. */
static const char *
finding_label(const char *key)
{
    const char *s = strrchr(key, '/');

    return s ? s + 1 : key;
}

static void
changes_add(struct hc_result *r, const char *what, const char *item)
{
    size_t n = strlen(r->changes);

    if (strstr(r->changes, item) != NULL && strstr(r->changes, what) != NULL)
        return; /* "new: spf" from two seeds once */
    snprintf(r->changes + n, sizeof(r->changes) - n, "%s%s%s", n ? "; " : "",
             what, item);
    r->has_changes = true;
}

/* Compare with the check's previous run. */
static void
hc_diff(struct hc_result *r, const struct history_check *prev)
{
    const struct history_check *h = &r->hc;

    for (size_t i = 0; i < h->nfindings; i++) {
        bool was = false;

        for (size_t k = 0; k < prev->nfindings && !was; k++)
            was = strcmp(prev->findings[k].key, h->findings[i].key) == 0;
        if (!was)
            changes_add(r, "new: ", finding_label(h->findings[i].key));
    }
    for (size_t k = 0; k < prev->nfindings; k++) {
        bool is = false;

        for (size_t i = 0; i < h->nfindings && !is; i++)
            is = strcmp(prev->findings[k].key, h->findings[i].key) == 0;
        if (!is)
            changes_add(r, "recovered: ", finding_label(prev->findings[k].key));
    }
    for (size_t i = 0; i < h->nfacts; i++) {
        const char *key = h->facts[i].key;

        if (strncmp(key, "seed.", 5) == 0)
            continue; /* outcomes are findings already */
        for (size_t k = 0; k < prev->nfacts; k++) {
            char item[400];

            if (strcmp(prev->facts[k].key, key) != 0 ||
                strcmp(prev->facts[k].value, h->facts[i].value) == 0)
                continue;
            snprintf(item, sizeof(item), "%.120s %.100s -> %.100s", key,
                     prev->facts[k].value, h->facts[i].value);
            changes_add(r, "changed: ", item);
        }
    }
    if (prev->status != h->status && !r->has_changes) {
        char item[64];

        snprintf(item, sizeof(item), "%s -> %s",
                 history_status_name(prev->status),
                 history_status_name(h->status));
        changes_add(r, "status ", item);
    }
}

/* ------------------------------------------------------------------ */
/* Output: the plugin line, metrics, alerts                            */

/* Text being composed; is_cut once something did not fit its limit. */
struct out {
    struct pb_buf b;
    bool is_cut;
};

static void
out_add(struct out *o, const char *p, size_t n)
{
    if (pb_buf_add(&o->b, p, n) < 0)
        o->is_cut = true;
}

static void
out_adds(struct out *o, const char *s)
{
    out_add(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
out_addf(struct out *o, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        o->is_cut = true;
    else
        out_add(o, buf, (size_t)n);
}

/* A perfdata label: quoted, no quote or '=' inside. */
static void
perf_label(struct out *b, const char *name, const char *what)
{
    out_adds(b, " '");
    for (const char *p = name; *p; p++)
        out_add(b, (*p == '\'' || *p == '=' || *p == ' ') ? "_" : p, 1);
    if (what != NULL) {
        out_add(b, "_", 1);
        out_adds(b, what);
    }
    out_adds(b, "'=");
}

static enum history_status
worst(const struct hc_result *r, size_t n)
{
    bool crit = false, unk = false, warn = false;

    for (size_t i = 0; i < n; i++) {
        crit |= r[i].hc.status == HISTORY_CRITICAL;
        unk |= r[i].hc.status == HISTORY_UNKNOWN;
        warn |= r[i].hc.status == HISTORY_WARNING;
    }
    return crit   ? HISTORY_CRITICAL
           : unk  ? HISTORY_UNKNOWN
           : warn ? HISTORY_WARNING
                  : HISTORY_OK;
}

static void
plugin_line(struct out *b, const struct hc_result *r, size_t n,
            enum history_status all)
{
    out_addf(b, "PROBE %s - ", history_status_name(all));
    for (size_t i = 0; i < n; i++) {
        const struct hc_result *x = &r[i];
        char *name = report_escape(x->hc.name);

        out_addf(b, "%s%s %s", i ? ", " : "", name,
                 history_status_name(x->hc.status));
        if (x->has_changes)
            out_addf(b, " (%s)", x->changes);
        else if (x->hc.status != HISTORY_OK && x->hc.summary != NULL)
            out_addf(b, " (%s)", x->hc.summary);
        free(name);
    }
    out_adds(b, " |");
    for (size_t i = 0; i < n; i++) {
        const struct hc_result *x = &r[i];

        perf_label(b, x->hc.name, "status");
        out_addf(b, "%d;1;2;0;3", (int)x->hc.status);
        perf_label(b, x->hc.name, "duration");
        out_addf(b, "%.3fs", x->hc.duration_s);
        if (x->has_spf_lookups) {
            perf_label(b, x->hc.name, "spf_lookups");
            out_addf(b, "%.0f;;10;0;", x->spf_lookups);
        }
        for (int k = 0; k < 8 && x->hc.kind[0] == 'p'; k++) {
            if (x->outcome_count[k] == 0 && k != 0)
                continue;
            perf_label(b, x->hc.name, outcome_names[k]);
            out_addf(b, "%zu", x->outcome_count[k]);
        }
    }
}

/* Prometheus label value: \\, \" and \n escaped. */
static void
prom_value(struct out *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            out_add(b, "\\", 1);
        if (*s == '\n') {
            out_adds(b, "\\n");
            continue;
        }
        out_add(b, s, 1);
    }
}

static int
prom_write(const char *path, const struct hc_result *r, size_t n,
           enum history_status all, char *msg, size_t msgsize)
{
    struct out o = {0};
    char *tmp, *dir, *slash;
    int fd, rc = -1;

    pb_buf_init(&o.b, 16u * 1024 * 1024);
    out_adds(&o, "# HELP probe_health_status Worst status of the run: 0 "
                 "OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
                 "# TYPE probe_health_status gauge\n");
    out_addf(&o, "probe_health_status %d\n", (int)all);
    out_addf(&o,
             "# HELP probe_health_last_run_timestamp_seconds When "
             "the run ended.\n"
             "# TYPE probe_health_last_run_timestamp_seconds gauge\n"
             "probe_health_last_run_timestamp_seconds %lld\n",
             (long long)time(NULL));
    out_adds(&o, "# HELP probe_check_status Status of each check.\n"
                 "# TYPE probe_check_status gauge\n");
    for (size_t i = 0; i < n; i++) {
        out_adds(&o, "probe_check_status{check=\"");
        prom_value(&o, r[i].hc.name);
        out_addf(&o, "\"} %d\n", (int)r[i].hc.status);
    }
    out_adds(&o, "# HELP probe_check_duration_seconds How long each "
                 "check took.\n"
                 "# TYPE probe_check_duration_seconds gauge\n");
    for (size_t i = 0; i < n; i++) {
        out_adds(&o, "probe_check_duration_seconds{check=\"");
        prom_value(&o, r[i].hc.name);
        out_addf(&o, "\"} %.3f\n", r[i].hc.duration_s);
    }
    out_adds(&o, "# HELP probe_spf_dns_lookups SPF DNS lookups in "
                 "the worst case.\n"
                 "# TYPE probe_spf_dns_lookups gauge\n");
    for (size_t i = 0; i < n; i++) {
        if (!r[i].has_spf_lookups)
            continue;
        out_adds(&o, "probe_spf_dns_lookups{check=\"");
        prom_value(&o, r[i].hc.name);
        out_addf(&o, "\"} %.0f\n", r[i].spf_lookups);
    }
    out_adds(&o, "# HELP probe_seeds Seeds of a probe run by "
                 "outcome.\n"
                 "# TYPE probe_seeds gauge\n");
    for (size_t i = 0; i < n; i++) {
        if (r[i].hc.kind[0] != 'p')
            continue;
        for (int k = 0; k < 8; k++) {
            out_adds(&o, "probe_seeds{check=\"");
            prom_value(&o, r[i].hc.name);
            out_addf(&o, "\",outcome=\"%s\"} %zu\n", outcome_names[k],
                     r[i].outcome_count[k]);
        }
    }
    if (o.is_cut) {
        snprintf(msg, msgsize, "%.300s: the metrics are too large", path);
        pb_buf_release(&o.b);
        return -1;
    }
    /* a temporary file beside it, fsync, rename, fsync the directory:
       the collector sees the old file or the new one, never half */
    tmp = pb_xasprintf("%s.tmp.%ld", path, (long)getpid());
    dir = pb_xstrdup(path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, strlen(dir) + 1, ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(msg, msgsize, "%.300s: cannot write: %s", path,
                 strerror(errno));
    } else {
        const char *p = pb_buf_ptr(&o.b);
        size_t left = o.b.len;
        int saved = 0;

        while (left > 0) {
            ssize_t w = write(fd, p, left);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                saved = errno ? errno : EIO;
                break;
            }
            p += w;
            left -= (size_t)w;
        }
        if (saved == 0 && fsync(fd) != 0)
            saved = errno;
        if (close(fd) != 0 && saved == 0)
            saved = errno;
        if (saved == 0 && rename(tmp, path) != 0)
            saved = errno;
        if (saved != 0) {
            snprintf(msg, msgsize, "%.300s: cannot write: %s", path,
                     strerror(saved));
            unlink(tmp);
        } else {
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            rc = 0;
        }
    }
    free(tmp);
    free(dir);
    pb_buf_release(&o.b);
    return rc;
}

static char *
alert_payload(const char *line, const struct hc_result *r, size_t n,
              enum history_status all, const char *started)
{
    cJSON *o = cJSON_CreateObject(), *checks;
    char *text;

    report_json_str(o, "text", line);
    cJSON_AddStringToObject(o, "status", history_status_name(all));
    cJSON_AddStringToObject(o, "started", started);
    checks = cJSON_AddArrayToObject(o, "checks");
    for (size_t i = 0; i < n; i++) {
        cJSON *c = cJSON_CreateObject();

        report_json_str(c, "name", r[i].hc.name);
        cJSON_AddStringToObject(c, "status",
                                history_status_name(r[i].hc.status));
        report_json_str(c, "changes", r[i].has_changes ? r[i].changes : "");
        cJSON_AddItemToArray(checks, c);
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text ? text : pb_xstrdup("{}");
}

/* Deliver the pending alerts, oldest first; each at most retries times,
   with backoff, in this run. */
static void
alerts_deliver(struct history *h, const struct hc_config *cfg)
{
    const char *url = cfg->webhook_url;
    struct history_alert *v = NULL;
    size_t n = 0;
    struct pb_err err;
    char host[256];

    if (cfg->webhook_url_env != NULL)
        url = getenv(cfg->webhook_url_env);
    if (url == NULL || url[0] == '\0') {
        fprintf(stderr,
                "probe health: warning: the webhook variable %s is not set; "
                "alerts stay pending\n",
                cfg->webhook_url_env ? cfg->webhook_url_env : "?");
        return;
    }
    alert_url_host(url, host, sizeof(host));
    pb_err_clear(&err);
    if (history_pending_alerts(h, 50, &v, &n, &err) < 0) {
        fprintf(stderr, "probe health: warning: %s\n", err.msg);
        return;
    }
    for (size_t i = 0; i < n && !pb_signal_stopping(); i++) {
        char key[64];
        bool ok = false;
        unsigned pause_ms = 1000;

        snprintf(key, sizeof(key), "probe-alert-%lld", (long long)v[i].id);
        for (long t = 0; t < cfg->webhook_retries && !ok; t++) {
            pb_err_clear(&err);
            if (alert_post(url, v[i].payload, strlen(v[i].payload), key,
                           (unsigned)cfg->webhook_timeout_s * 1000,
                           &err) == 0) {
                ok = true;
                break;
            }
            if (err.code == PB_E_PERMFAIL || t + 1 == cfg->webhook_retries ||
                pb_signal_stopping())
                break;
            {
                struct timespec ts = {pause_ms / 1000,
                                      (long)(pause_ms % 1000) * 1000000};

                nanosleep(&ts, NULL);
            }
            pause_ms *= 2;
        }
        if (history_alert_attempt(h, v[i].id, ok, ok ? NULL : err.msg, &err) <
            0)
            fprintf(stderr, "probe health: warning: %s\n", err.msg);
        if (!ok) {
            fprintf(stderr,
                    "probe health: warning: alert %lld not delivered to %s "
                    "(%s); it stays pending for the next run\n",
                    (long long)v[i].id, host, err.msg);
            break; /* in order: the later ones wait too */
        }
    }
    history_alerts_free(v, n);
}

/* ------------------------------------------------------------------ */
/* History path and lock                                               */

char *
health_default_history(void)
{
    const char *s = getenv("PROBE_STATE_DIR");
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");

    if (s != NULL && s[0] == '/')
        return pb_xasprintf("%s/history.db", s);
    if (xdg != NULL && xdg[0] == '/')
        return pb_xasprintf("%s/probe/history.db", xdg);
    if (geteuid() == 0)
        return pb_xstrdup("/var/lib/probe/history.db");
    if (home == NULL || home[0] != '/') {
        struct passwd *pw = getpwuid(geteuid());

        home = pw ? pw->pw_dir : NULL;
    }
    if (home == NULL)
        return pb_xstrdup("/var/lib/probe/history.db");
    return pb_xasprintf("%s/.local/state/probe/history.db", home);
}

/* mkdir -p for the default directory only (0700). */
static void
make_parent(const char *path)
{
    char *d = pb_xstrdup(path);

    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(d, 0700);
        *p = '/';
    }
    free(d);
}

static int
lock_take(const char *db, long wait_s, int *fd_out, char *msg, size_t msgsize)
{
    char *path = pb_xasprintf("%s.lock", db);
    double until = pb_clock_mono_s() + (double)wait_s;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        snprintf(msg, msgsize, "%.300s: cannot open the lock: %s", path,
                 strerror(errno));
        free(path);
        return -1;
    }
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(msg, msgsize, "%.300s: cannot lock: %s", path,
                     strerror(errno));
            close(fd);
            free(path);
            return -1;
        }
        if (pb_clock_mono_s() >= until || pb_signal_stopping()) {
            char pid[32] = "";
            ssize_t r = pread(fd, pid, sizeof(pid) - 1, 0);

            pid[r > 0 ? r : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            snprintf(msg, msgsize, "already running (pid %s holds %.300s)%s",
                     pid[0] ? pid : "?", path,
                     wait_s > 0 ? " after waiting" : "");
            close(fd);
            free(path);
            return -1;
        }
        {
            struct timespec ts = {0, 100 * 1000 * 1000};

            nanosleep(&ts, NULL);
        }
    }
    if (ftruncate(fd, 0) == 0) {
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

        if (pwrite(fd, pid, (size_t)n, 0) < 0) {
            /* the pid is only for the message of a second run */
        }
    }
    free(path);
    *fd_out = fd;
    return 0;
}

/* ------------------------------------------------------------------ */

static void
iso_now(char *dst, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int unknown(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
unknown(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* one plugin line on stdout, and the reason on stderr */
    printf("PROBE UNKNOWN - %s\n", buf);
    fflush(stdout);
    fprintf(stderr, "probe health: %s\n", buf);
    return CLI_UNKNOWN;
}

static void
result_release(struct hc_result *r)
{
    struct history_check *h = &r->hc;

    for (size_t i = 0; i < h->nfindings; i++) {
        free(h->findings[i].key);
        free(h->findings[i].summary);
    }
    free(h->findings);
    for (size_t i = 0; i < h->nfacts; i++) {
        free(h->facts[i].key);
        free(h->facts[i].value);
    }
    free(h->facts);
    free(h->summary);
    /* name and kind point into the config */
    memset(r, 0, sizeof(*r));
}

/* Run check c into r (never fails: what went wrong is its summary). */
static void
run_check(const struct hc_config *cfg, const struct hc_check *c,
          struct hc_result *r)
{
    char **av = hc_argv(cfg, c);
    struct hc_child ch;
    double t0 = pb_clock_mono_s();
    char reason[512];
    cJSON *doc = NULL;

    r->hc.name = c->name;
    r->hc.kind = c->kind == HC_AUDIT ? (char *)"audit" : (char *)"probe";
    r->hc.status = HISTORY_UNKNOWN;
    if (hc_child_run(av, c->timeout_s, &ch) < 0) {
        r->hc.summary =
            pb_xasprintf("cannot start the check: %s", strerror(errno));
        argv_free(av);
        return;
    }
    argv_free(av);
    r->hc.duration_s = pb_clock_mono_s() - t0;
    if (ch.out.len > 0 && !ch.is_cut)
        doc = cJSON_ParseWithLength(pb_buf_ptr(&ch.out), ch.out.len);
    hc_child_reason(&ch, reason, sizeof(reason));
    if (ch.is_timed_out) {
        r->hc.summary = pb_xasprintf(
            "did not finish within its timeout of %ld s", c->timeout_s);
    } else if (ch.is_stopped) {
        r->hc.summary = pb_xstrdup("stopped by a signal");
    } else if (doc == NULL || ch.status == 3) {
        r->hc.summary = pb_xstrdup(reason);
    } else {
        if (c->kind == HC_AUDIT)
            hc_from_audit(c, doc, r);
        else
            hc_from_probe(c, doc, r);
        for (size_t i = 0; i < r->hc.nfindings && r->hc.summary == NULL; i++)
            if (r->hc.findings[i].severity == (int)r->hc.status)
                r->hc.summary = report_escape(r->hc.findings[i].summary);
    }
    cJSON_Delete(doc);
    pb_buf_release(&ch.out);
}

int
cmd_health_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", 1, NULL, 'c'},  {"prom", 1, NULL, 'p'},
        {"history", 1, NULL, 'H'}, {"help", 0, NULL, 'h'},
        {"verbose", 0, NULL, 'v'}, {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *prom = NULL, *hist_opt = NULL;
    struct hc_config cfg = {0};
    struct hc_result *res = NULL;
    struct history *h = NULL;
    struct history_run run;
    struct history_alert alert = {0};
    struct pb_err err;
    enum history_status all;
    char msg[1024], *hist = NULL;
    struct out line = {0};
    int opt, lock_fd = -1, rc = CLI_UNKNOWN;
    size_t done = 0;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return CLI_OK;
        case 'c':
            config = optarg;
            break;
        case 'p':
            prom = optarg;
            break;
        case 'H':
            hist_opt = optarg;
            break;
        case 'v':
            if (pb_log_level < PB_LOG_DEBUG)
                pb_log_level++;
            break;
        default:
            return unknown("bad option %s (probe health --help)",
                           argv[optind - 1]);
        }
    }
    if (optind < argc)
        return unknown("unexpected argument '%s'", argv[optind]);
    if (config == NULL)
        return unknown("--config FILE is required (docs/health.md)");
    signal(SIGPIPE, SIG_IGN);
    pb_signal_install();
    if (hc_config_load(config, &cfg, msg, sizeof(msg)) < 0) {
        hc_config_free(&cfg);
        return unknown("%s", msg);
    }
    if (prom == NULL)
        prom = cfg.prom;
    if (hist_opt != NULL)
        hist = pb_xstrdup(hist_opt);
    else if (cfg.history != NULL)
        hist = pb_xstrdup(cfg.history);
    else {
        hist = health_default_history();
        make_parent(hist);
    }
    pb_err_clear(&err);
    pb_buf_init(&line.b, 64u * 1024);
    memset(&run, 0, sizeof(run));
    if (lock_take(hist, cfg.lock_wait_s, &lock_fd, msg, sizeof(msg)) < 0) {
        rc = unknown("%s", msg);
        goto out;
    }
    if (history_open(hist, true, &h, &err) < 0) {
        rc = unknown("%s", err.msg);
        goto out;
    }
    iso_now(run.started, sizeof(run.started));
    res = pb_xcalloc(cfg.n, sizeof(*res));
    for (size_t i = 0; i < cfg.n && !pb_signal_stopping(); i++) {
        struct history_check prev;
        int found;

        log_info("check %s: running", cfg.v[i].name);
        run_check(&cfg, &cfg.v[i], &res[i]);
        done = i + 1;
        if (pb_signal_stopping())
            break;
        memset(&prev, 0, sizeof(prev));
        found = history_last_check(h, cfg.v[i].name, &prev, &err);
        if (found < 0) {
            rc = unknown("%s", err.msg);
            goto out;
        }
        if (found > 0) {
            hc_diff(&res[i], &prev);
            history_check_release(&prev);
        } else if (res[i].hc.status != HISTORY_OK) {
            for (size_t k = 0; k < res[i].hc.nfindings; k++)
                changes_add(&res[i],
                            "new: ", finding_label(res[i].hc.findings[k].key));
        }
    }
    iso_now(run.finished, sizeof(run.finished));
    run.checks = pb_xcalloc(done ? done : 1, sizeof(*run.checks));
    for (size_t i = 0; i < done; i++)
        run.checks[i] = res[i].hc;
    run.nchecks = done;
    if (pb_signal_stopping()) {
        /* a run stopped half-way is recorded as such, without alerts */
        run.aborted = true;
        run.status = HISTORY_UNKNOWN;
        run.summary = pb_xasprintf("aborted by signal %d after %zu of %zu "
                                   "checks",
                                   pb_signal_which(), done, cfg.n);
        if (history_record_run(h, &run, NULL, 0, &err) < 0)
            rc = unknown("%s; %s", run.summary, err.msg);
        else
            rc = unknown("%s", run.summary);
        goto out;
    }
    all = worst(res, cfg.n);
    plugin_line(&line, res, cfg.n, all);
    run.status = all;
    run.summary = pb_xstrdup(pb_buf_ptr(&line.b));
    run.summary[strcspn(run.summary, "|")] = '\0';
    if (run.summary[0] != '\0' && run.summary[strlen(run.summary) - 1] == ' ')
        run.summary[strlen(run.summary) - 1] = '\0';
    {
        bool changed = false;

        for (size_t i = 0; i < cfg.n; i++)
            changed |= res[i].has_changes;
        if (changed && (cfg.webhook_url || cfg.webhook_url_env)) {
            char *cut = pb_xstrdup(pb_buf_ptr(&line.b));

            cut[strcspn(cut, "|")] = '\0';
            alert.payload = alert_payload(cut, res, cfg.n, all, run.started);
            free(cut);
        }
    }
    if (history_record_run(h, &run, &alert, alert.payload ? 1 : 0, &err) < 0) {
        rc = unknown("%s", err.msg);
        goto out;
    }
    if (cfg.webhook_url || cfg.webhook_url_env)
        alerts_deliver(h, &cfg);
    if (prom != NULL &&
        prom_write(prom, res, cfg.n, all, msg, sizeof(msg)) < 0) {
        rc = unknown("%s", msg);
        goto out;
    }
    printf("%s\n", pb_buf_ptr(&line.b));
    rc = (int)all;

out:
    for (size_t i = 0; res != NULL && i < cfg.n; i++)
        result_release(&res[i]);
    free(res);
    free(run.checks);
    free(run.summary);
    free(alert.payload);
    history_close(h);
    if (lock_fd >= 0)
        close(lock_fd); /* releases the flock */
    free(hist);
    pb_buf_release(&line.b);
    hc_config_free(&cfg);
    return rc;
}
