/* SPDX-License-Identifier: MIT */
/*
 * The `probe health` record (probe/history.c): creating, reopening and
 * migrating files, refusing files that are not ours, runs written whole or
 * not at all (also under SIGKILL), the readers' filters, alerts, and the
 * errors of a read-only file or directory and of a full disk (tmpfs mounts;
 * skipped when not root or mounting is not allowed).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "history.h"
#include "testdata.h"

static char tmpdir[64];
static char dbpath[128];
/* mount points to detach in teardown, "" when unused */
static char mnt[3][128];

static void
setup(void)
{
    testdata_tmpdir(tmpdir, sizeof(tmpdir), "pbhist");
    snprintf(dbpath, sizeof(dbpath), "%s/history.db", tmpdir);
    for (size_t i = 0; i < 3; i++)
        mnt[i][0] = '\0';
}

static void
teardown(void)
{
    char cmd[128];

    /* the last mounted first: a bind mount may sit on a tmpfs */
    for (int i = 2; i >= 0; i--)
        if (mnt[i][0] != '\0')
            (void)umount2(mnt[i], MNT_DETACH);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(history, .init = setup, .fini = teardown, .timeout = 60);

/* Direct SQLite access, to look behind the module's back. */
static sqlite3 *
raw_open(const char *path)
{
    sqlite3 *db = NULL;

    cr_assert_eq(sqlite3_open_v2(path, &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                 NULL),
                 SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void
raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;

    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s",
                 sql, msg != NULL ? msg : "?");
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v;

    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
                 sql);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t
file_int(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    int64_t v = raw_int(db, sql);

    sqlite3_close(db);
    return v;
}

static void
write_file(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static bool
file_exists(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0;
}

static struct history *
open_ok(const char *path, bool create)
{
    struct history *h = NULL;
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(history_open(path, create, &h, &err), 0, "open: %s", err.msg);
    cr_assert_not_null(h);
    return h;
}

/* A run of one or two checks with a finding and facts each. */
static struct history_finding spf_findings[] = {
    {"spf/too-many-lookups", HISTORY_CRITICAL, "11 DNS lookups (limit 10)"},
    {"spf/void", HISTORY_WARNING, "2 void lookups"},
};
static struct history_fact spf_facts[] = {
    {"spf.lookups", "11"},
    /* stored as given: quoting, SQL and control bytes are only text */
    {"spf.record", "v=spf1 '; DROP TABLE runs; --\x01\xff\n"},
};
static struct history_fact dkim_facts[] = {{"dkim.lab.key", "rsa-2048"}};

static void
make_check(struct history_check *c, char *name, enum history_status st,
           char *summary)
{
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->kind = "audit";
    c->status = st;
    c->duration_s = 0.25;
    c->summary = summary;
}

static void
make_run(struct history_run *r, const char *started, struct history_check *c,
         size_t n, bool aborted)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->started, sizeof(r->started), "%s", started);
    snprintf(r->finished, sizeof(r->finished), "%s", started);
    r->status = HISTORY_OK;
    for (size_t i = 0; i < n; i++)
        if (c[i].status > r->status)
            r->status = c[i].status;
    r->aborted = aborted;
    r->summary = "summary";
    r->checks = c;
    r->nchecks = n;
}

static int64_t
record_ok(struct history *h, struct history_run *r)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(history_record_run(h, r, NULL, 0, &err), 0, "record: %s",
                 err.msg);
    cr_assert_gt(r->id, 0);
    return r->id;
}

/* Record a run at started with checks "spf" (status spf_st) and "dkim". */
static int64_t
record_two(struct history *h, const char *started, enum history_status spf_st,
           bool aborted)
{
    struct history_check c[2];
    struct history_run r;

    make_check(&c[0], "spf", spf_st, "spf summary");
    c[0].findings = spf_findings;
    c[0].nfindings = 2;
    c[0].facts = spf_facts;
    c[0].nfacts = 2;
    make_check(&c[1], "dkim", HISTORY_OK, "dkim summary");
    c[1].facts = dkim_facts;
    c[1].nfacts = 1;
    make_run(&r, started, c, 2, aborted);
    return record_ok(h, &r);
}

Test(history, creates_then_reopens)
{
    struct history *h = open_ok(dbpath, true);
    sqlite3 *db;

    cr_assert(file_exists(dbpath));
    record_two(h, "2026-11-28T08:00:00Z", HISTORY_OK, false);
    history_close(h);
    h = open_ok(dbpath, false);
    history_close(h);

    db = raw_open(dbpath);
    cr_assert_eq(raw_int(db, "PRAGMA user_version"), HISTORY_SCHEMA_VERSION);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM runs"), 1);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM checks"), 2);
    sqlite3_close(db);
}

Test(history, sets_wal_and_foreign_keys)
{
    struct history *h = open_ok(dbpath, true);
    sqlite3 *db = raw_open(dbpath);
    sqlite3_stmt *st = NULL;

    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* the schema's foreign keys hold: a check of no run is refused */
    raw_exec(db, "PRAGMA foreign_keys = ON");
    cr_assert_neq(sqlite3_exec(db,
                               "INSERT INTO checks (run_id, seq, name, kind,"
                               " status, summary) VALUES (99, 0, 'x', 'audit',"
                               " 0, '')",
                               NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_close(db);
    history_close(h);
}

Test(history, refuses_missing_file_without_create)
{
    struct history *h = NULL;
    struct pb_err err;

    cr_assert_eq(history_open(dbpath, false, &h, &err), -1);
    cr_assert_null(h);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_eq(err.stage, PB_STAGE_IO);
    cr_assert_not_null(strstr(err.msg, dbpath), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "No such file"), "%s", err.msg);
    cr_assert_not(file_exists(dbpath));
}

Test(history, refuses_missing_directory)
{
    struct history *h = NULL;
    struct pb_err err;
    char path[160];

    snprintf(path, sizeof(path), "%s/nodir/history.db", tmpdir);
    cr_assert_eq(history_open(path, true, &h, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, "nodir/history.db"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "does not exist"), "%s", err.msg);
}

Test(history, migrates_an_empty_file)
{
    struct history *h;

    write_file(dbpath, "", 0);
    h = open_ok(dbpath, false);
    record_two(h, "2026-11-28T08:00:00Z", HISTORY_OK, false);
    history_close(h);
    cr_assert_eq(file_int(dbpath, "PRAGMA user_version"),
                 HISTORY_SCHEMA_VERSION);
}

Test(history, refuses_a_database_that_is_not_ours)
{
    struct history *h = NULL;
    struct pb_err err;
    sqlite3 *db = raw_open(dbpath);

    raw_exec(db, "CREATE TABLE contacts (name TEXT)");
    sqlite3_close(db);
    cr_assert_eq(history_open(dbpath, true, &h, &err), -1);
    cr_assert_null(h);
    cr_assert_eq(err.code, PB_E_SYNTAX);
    cr_assert_not_null(strstr(err.msg, "not a probe history database"), "%s",
                       err.msg);
    cr_assert_not_null(strstr(err.msg, dbpath), "%s", err.msg);
    /* left as it was: no tables of ours, not switched to WAL */
    db = raw_open(dbpath);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM sqlite_master"), 1);
    cr_assert_eq(raw_int(db, "PRAGMA user_version"), 0);
    sqlite3_close(db);

    /* a version but not our mark is someone else's too */
    db = raw_open(dbpath);
    raw_exec(db, "PRAGMA user_version = 1");
    sqlite3_close(db);
    cr_assert_eq(history_open(dbpath, false, &h, &err), -1);
    cr_assert_eq(err.code, PB_E_SYNTAX);
}

Test(history, refuses_a_newer_schema)
{
    struct history *h = open_ok(dbpath, true);
    struct pb_err err;
    sqlite3 *db;

    history_close(h);
    h = NULL;
    db = raw_open(dbpath);
    raw_exec(db, "PRAGMA user_version = 2");
    sqlite3_close(db);
    cr_assert_eq(history_open(dbpath, false, &h, &err), -1);
    cr_assert_null(h);
    cr_assert_eq(err.code, PB_E_SYNTAX);
    cr_assert_not_null(strstr(err.msg, "written by a newer probe"), "%s",
                       err.msg);
    cr_assert_eq(file_int(dbpath, "PRAGMA user_version"), 2);
}

Test(history, refuses_garbage_and_never_recreates)
{
    char junk[8192];
    char back[sizeof(junk)];
    struct history *h = NULL;
    struct pb_err err;
    FILE *f;

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 7 + 3);
    write_file(dbpath, junk, sizeof(junk));
    for (int create = 0; create <= 1; create++) {
        pb_err_clear(&err);
        cr_assert_eq(history_open(dbpath, create, &h, &err), -1);
        cr_assert_null(h);
        cr_assert_eq(err.code, PB_E_IO);
        cr_assert_not_null(strstr(err.msg, "not a database"), "%s", err.msg);
        cr_log_info("garbage: %s", err.msg);
        cr_assert_not_null(strstr(err.msg, dbpath), "%s", err.msg);
    }
    f = fopen(dbpath, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fread(back, 1, sizeof(back), f), sizeof(back));
    fclose(f);
    cr_assert_eq(memcmp(junk, back, sizeof(junk)), 0);
}

Test(history, refuses_a_directory)
{
    struct history *h = NULL;
    struct pb_err err;

    cr_assert_eq(history_open(tmpdir, true, &h, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, "not a regular file"), "%s", err.msg);
}

Test(history, names_a_long_path_by_its_tail)
{
    char path[600];
    struct history *h = NULL;
    struct pb_err err;
    size_t n;

    n = (size_t)snprintf(path, sizeof(path), "%s/", tmpdir);
    memset(path + n, 'd', 300);
    snprintf(path + n + 300, sizeof(path) - n - 300, "/tail-of-it.db");
    cr_assert_eq(history_open(path, false, &h, &err), -1);
    cr_assert_not_null(strstr(err.msg, "tail-of-it.db"), "%s", err.msg);
    cr_assert_lt(strlen(err.msg), sizeof(err.msg) - 1);
}

Test(history, last_check_skips_aborted_runs)
{
    struct history *h = open_ok(dbpath, true);
    struct history_check c;
    struct pb_err err;
    int64_t second;

    cr_assert_eq(history_last_check(h, "spf", &c, &err), 0);
    record_two(h, "2026-11-28T08:00:00Z", HISTORY_OK, false);
    second = record_two(h, "2026-11-28T09:00:00Z", HISTORY_CRITICAL, false);
    cr_assert_gt(second, 0);
    record_two(h, "2026-11-28T10:00:00Z", HISTORY_WARNING, true);

    cr_assert_eq(history_last_check(h, "spf", &c, &err), 1, "%s", err.msg);
    cr_assert_str_eq(c.name, "spf");
    cr_assert_str_eq(c.kind, "audit");
    cr_assert_eq(c.status, HISTORY_CRITICAL);
    cr_assert_float_eq(c.duration_s, 0.25, 1e-9);
    cr_assert_str_eq(c.summary, "spf summary");
    cr_assert_eq(c.nfindings, 2);
    cr_assert_str_eq(c.findings[0].key, "spf/too-many-lookups");
    cr_assert_eq(c.findings[0].severity, HISTORY_CRITICAL);
    cr_assert_str_eq(c.findings[1].summary, "2 void lookups");
    cr_assert_eq(c.nfacts, 2);
    cr_assert_str_eq(c.facts[0].key, "spf.lookups");
    cr_assert_str_eq(c.facts[0].value, "11");
    cr_assert_str_eq(c.facts[1].value, spf_facts[1].value);
    history_check_release(&c);

    cr_assert_eq(history_last_check(h, "dkim", &c, &err), 1);
    cr_assert_eq(c.nfindings, 0);
    cr_assert_null(c.findings);
    cr_assert_eq(c.nfacts, 1);
    history_check_release(&c);
    cr_assert_eq(history_last_check(h, "nosuch", &c, &err), 0);
    cr_assert_null(c.name);
    history_check_release(&c);
    history_close(h);
}

Test(history, record_is_all_or_nothing)
{
    struct history *h = open_ok(dbpath, true);
    struct history_fact boom[] = {{"x", "1"}, {"boom", "2"}};
    struct history_alert alert = {.payload = "{}"};
    struct history_check c[2];
    struct history_run r;
    struct pb_err err;
    sqlite3 *db = raw_open(dbpath);

    /* a failure deep inside the transaction: the second check's 2nd fact */
    raw_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON facts"
                 " WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom');"
                 " END");
    make_check(&c[0], "spf", HISTORY_OK, "ok");
    make_check(&c[1], "dkim", HISTORY_OK, "ok");
    c[1].facts = boom;
    c[1].nfacts = 2;
    make_run(&r, "2026-11-28T08:00:00Z", c, 2, false);
    cr_assert_eq(history_record_run(h, &r, &alert, 1, &err), -1);
    cr_assert_eq(r.id, 0);
    cr_assert_eq(alert.id, 0);
    cr_assert_not_null(strstr(err.msg, "cannot record the run"), "%s", err.msg);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM runs"), 0);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM checks"), 0);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM facts"), 0);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM alerts"), 0);

    /* and the connection is usable afterwards */
    boom[1].key = "fine";
    cr_assert_eq(history_record_run(h, &r, &alert, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM facts"), 2);
    sqlite3_close(db);
    history_close(h);
}

Test(history, record_refuses_bad_input)
{
    struct history *h = open_ok(dbpath, true);
    struct history_check c;
    struct history_run r;
    struct pb_err err;

    make_check(&c, "spf", HISTORY_OK, "ok");
    make_run(&r, "2026-11-28 08:00", &c, 1, false);
    cr_assert_eq(history_record_run(h, &r, NULL, 0, &err), -1);
    cr_assert_eq(err.code, PB_E_INTERNAL);
    make_run(&r, "2026-11-28T08:00:00Z", &c, 1, false);
    c.name = NULL;
    cr_assert_eq(history_record_run(h, &r, NULL, 0, &err), -1);
    c.name = "spf";
    c.status = (enum history_status)7;
    cr_assert_eq(history_record_run(h, &r, NULL, 0, &err), -1);
    history_close(h);
    cr_assert_eq(file_int(dbpath, "SELECT count(*) FROM runs"), 0);
}

Test(history, alerts_stay_pending_until_delivered)
{
    struct history *h = open_ok(dbpath, true);
    struct history_alert in[2] = {{.payload = "{\"n\":1}"},
                                  {.payload = "{\"n\":2}"}};
    struct history_alert *v;
    struct history_check c;
    struct history_run r;
    struct pb_err err;
    size_t n;

    snprintf(in[1].created, sizeof(in[1].created), "2026-11-28T08:00:05Z");
    make_check(&c, "spf", HISTORY_CRITICAL, "bad");
    make_run(&r, "2026-11-28T08:00:00Z", &c, 1, false);
    cr_assert_eq(history_record_run(h, &r, in, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(in[0].run_id, r.id);
    cr_assert_eq(in[1].run_id, r.id);
    cr_assert_lt(in[0].id, in[1].id);
    cr_assert_eq(strlen(in[0].created), 20, "%s", in[0].created);

    cr_assert_eq(history_pending_alerts(h, 10, &v, &n, &err), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(v[0].id, in[0].id);
    cr_assert_str_eq(v[0].payload, "{\"n\":1}");
    cr_assert_eq(v[0].attempts, 0);
    cr_assert_null(v[0].last_error);
    cr_assert_str_eq(v[1].created, "2026-11-28T08:00:05Z");
    history_alerts_free(v, n);

    cr_assert_eq(history_pending_alerts(h, 1, &v, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(v[0].id, in[0].id);
    history_alerts_free(v, n);

    cr_assert_eq(history_alert_attempt(h, in[0].id, false, "HTTP 503", &err), 0,
                 "%s", err.msg);
    cr_assert_eq(history_alert_attempt(h, in[0].id, false, "timeout", &err), 0);
    cr_assert_eq(history_pending_alerts(h, 10, &v, &n, &err), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(v[0].attempts, 2);
    cr_assert_str_eq(v[0].last_error, "timeout");
    history_alerts_free(v, n);

    cr_assert_eq(history_alert_attempt(h, in[0].id, true, NULL, &err), 0);
    cr_assert_eq(history_pending_alerts(h, 10, &v, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(v[0].id, in[1].id);
    history_alerts_free(v, n);

    /* a second "delivered" keeps the first time */
    cr_assert_eq(history_alert_attempt(h, in[0].id, true, NULL, &err), 0);
    cr_assert_eq(history_alert_attempt(h, 9999, true, NULL, &err), -1);
    cr_assert_eq(err.code, PB_E_USAGE);
    history_close(h);
    cr_assert_eq(file_int(dbpath, "SELECT attempts FROM alerts ORDER BY id"),
                 4);
    cr_assert_eq(file_int(dbpath, "SELECT count(*) FROM alerts"
                                  " WHERE delivered_at IS NOT NULL"),
                 1);
}

Test(history, runs_filters_by_check_since_and_max)
{
    struct history *h = open_ok(dbpath, true);
    struct history_check only_dkim;
    struct history_run r, *v;
    struct pb_err err;
    size_t n;

    record_two(h, "2026-11-27T23:59:59Z", HISTORY_OK, false);
    make_check(&only_dkim, "dkim", HISTORY_WARNING, "dkim only");
    make_run(&r, "2026-11-28T08:00:00Z", &only_dkim, 1, false);
    record_ok(h, &r);
    record_two(h, "2026-11-28T09:00:00Z", HISTORY_CRITICAL, true);

    cr_assert_eq(history_runs(h, NULL, NULL, 100, &v, &n, &err), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[0].started, "2026-11-27T23:59:59Z");
    cr_assert_str_eq(v[2].started, "2026-11-28T09:00:00Z");
    cr_assert(v[2].aborted);
    cr_assert_eq(v[2].status, HISTORY_CRITICAL);
    cr_assert_eq(v[0].nchecks, 2);
    cr_assert_str_eq(v[0].checks[0].name, "spf");
    cr_assert_eq(v[0].checks[0].nfindings, 2);
    cr_assert_str_eq(v[0].summary, "summary");
    history_runs_free(v, n);

    /* only runs with an spf check, and only that check in each */
    cr_assert_eq(history_runs(h, "spf", NULL, 100, &v, &n, &err), 0);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(v[i].nchecks, 1);
        cr_assert_str_eq(v[i].checks[0].name, "spf");
    }
    history_runs_free(v, n);

    cr_assert_eq(history_runs(h, NULL, "2026-11-28", 100, &v, &n, &err), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[0].started, "2026-11-28T08:00:00Z");
    history_runs_free(v, n);
    cr_assert_eq(
        history_runs(h, "spf", "2026-11-28T08:00:01Z", 100, &v, &n, &err), 0);
    cr_assert_eq(n, 1);
    history_runs_free(v, n);

    /* the newest two, oldest first */
    cr_assert_eq(history_runs(h, NULL, NULL, 2, &v, &n, &err), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[0].started, "2026-11-28T08:00:00Z");
    cr_assert_str_eq(v[1].started, "2026-11-28T09:00:00Z");
    history_runs_free(v, n);

    cr_assert_eq(history_runs(h, "nosuch", NULL, 100, &v, &n, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_null(v);
    history_close(h);
}

Test(history, runs_validates_since)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-13-01",
        "2026-11-31",
        "2026-02-29",
        "2100-02-29",
        "2026-11-28T08:00:00",
        "2026-11-28 08:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T08:60:00Z",
        "2026-11-28T08:00:00+01:00",
        "2026-1-28",
        "+026-11-28",
        "2026-11-28T08:00:00Z\n",
    };
    static const char *const good[] = {"2024-02-29", "2000-02-29",
                                       "2026-12-31T23:59:60Z"};
    struct history *h = open_ok(dbpath, true);
    struct history_run *v;
    struct pb_err err;
    size_t n;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pb_err_clear(&err);
        cr_assert_eq(history_runs(h, NULL, bad[i], 10, &v, &n, &err), -1,
                     "accepted `%s`", bad[i]);
        cr_assert_eq(err.code, PB_E_USAGE);
        cr_assert_null(v);
    }
    cr_assert_not_null(strstr(err.msg, "\\n"), "escaped: %s", err.msg);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(history_runs(h, NULL, good[i], 10, &v, &n, &err), 0,
                     "refused `%s`", good[i]);
    history_close(h);
}

Test(history, integrity_ok)
{
    struct history *h = open_ok(dbpath, true);
    struct pb_err err;

    record_two(h, "2026-11-28T08:00:00Z", HISTORY_OK, false);
    cr_assert_eq(history_integrity(h, &err), 0, "%s", err.msg);
    history_close(h);
}

Test(history, status_names)
{
    cr_assert_str_eq(history_status_name(HISTORY_OK), "OK");
    cr_assert_str_eq(history_status_name(HISTORY_WARNING), "WARNING");
    cr_assert_str_eq(history_status_name(HISTORY_CRITICAL), "CRITICAL");
    cr_assert_str_eq(history_status_name(HISTORY_UNKNOWN), "UNKNOWN");
    cr_assert_str_eq(history_status_name((enum history_status)9), "UNKNOWN");
}

/* A tmpfs of size bytes at dir (recorded for teardown), or skip. */
static void
mount_tmpfs(int slot, const char *dir, const char *size)
{
    char opts[32];

    if (geteuid() != 0)
        cr_skip_test("needs root to mount a tmpfs");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        cr_assert_fail("mkdir %s: %s", dir, strerror(errno));
    snprintf(opts, sizeof(opts), "size=%s", size);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
        cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
    snprintf(mnt[slot], sizeof(mnt[slot]), "%s", dir);
}

static void
remount_ro(const char *dir)
{
    cr_assert_eq(mount("tmpfs", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL), 0,
                 "remount %s: %s", dir, strerror(errno));
}

Test(history, read_only_file_system_is_an_error)
{
    char dir[96], path[128];
    struct history *h;
    struct pb_err err;

    snprintf(dir, sizeof(dir), "%s/ro", tmpdir);
    mount_tmpfs(0, dir, "1m");
    snprintf(path, sizeof(path), "%s/history.db", dir);
    h = open_ok(path, true);
    record_two(h, "2026-11-28T08:00:00Z", HISTORY_OK, false);
    history_close(h);
    remount_ro(dir);

    h = NULL;
    cr_assert_eq(history_open(path, false, &h, &err), -1);
    cr_assert_null(h);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "read-only"), "%s", err.msg);
    cr_log_info("read-only file system: %s", err.msg);
    /* a new file cannot be made there either */
    snprintf(path, sizeof(path), "%s/new.db", dir);
    cr_assert_eq(history_open(path, true, &h, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, "new.db"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "Read-only file system"), "%s", err.msg);
    cr_assert_not(file_exists(path));
    cr_log_info("read-only file system, new file: %s", err.msg);
}

Test(history, read_only_directory_is_an_error)
{
    char rw[96], ro[96], src[128], dst[128];
    struct history *h;
    struct pb_err err;

    /* a writable file (bind-mounted) in a directory of a read-only tmpfs */
    snprintf(rw, sizeof(rw), "%s/rw", tmpdir);
    snprintf(ro, sizeof(ro), "%s/ro", tmpdir);
    mount_tmpfs(0, rw, "1m");
    snprintf(src, sizeof(src), "%s/history.db", rw);
    h = open_ok(src, true);
    history_close(h);
    mount_tmpfs(1, ro, "64k");
    snprintf(dst, sizeof(dst), "%s/history.db", ro);
    write_file(dst, "", 0);
    remount_ro(ro);
    if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
        cr_skip_test("cannot bind-mount a file: %s", strerror(errno));
    snprintf(mnt[2], sizeof(mnt[2]), "%s", dst);
    h = NULL;
    cr_assert_eq(history_open(dst, false, &h, &err), -1);
    cr_assert_null(h);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, dst), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "directory"), "%s", err.msg);
    cr_log_info("read-only directory: %s", err.msg);
}

/* Fill the file system of dir until ENOSPC. */
static void
fill_up(const char *dir)
{
    char path[160], block[4096];
    int fd;

    memset(block, 'x', sizeof(block));
    snprintf(path, sizeof(path), "%s/filler", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    for (;;) {
        ssize_t w = write(fd, block, sizeof(block));

        if (w <= 0)
            break;
    }
    /* the last partial blocks */
    while (write(fd, block, 1) == 1)
        ;
    cr_assert_eq(errno, ENOSPC);
    close(fd);
}

Test(history, full_disk_is_an_error)
{
    char dir[96], path[128], other[128], filler[160];
    static char big[64 * 1024];
    struct history_check c;
    struct history_run r;
    struct history *h, *h2 = NULL;
    struct pb_err err;

    snprintf(dir, sizeof(dir), "%s/full", tmpdir);
    mount_tmpfs(0, dir, "256k");
    snprintf(path, sizeof(path), "%s/history.db", dir);
    h = open_ok(path, true);
    record_two(h, "2026-11-28T08:00:00Z", HISTORY_OK, false);
    fill_up(dir);

    memset(big, 'b', sizeof(big) - 1);
    make_check(&c, "big", HISTORY_OK, big);
    make_run(&r, "2026-11-28T09:00:00Z", &c, 1, false);
    cr_assert_eq(history_record_run(h, &r, NULL, 0, &err), -1);
    cr_assert_eq(r.id, 0);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, "disk full"), "%s", err.msg);
    cr_log_info("full disk: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);

    /* a new file cannot be set up either, and says why */
    snprintf(other, sizeof(other), "%s/other.db", dir);
    cr_assert_eq(history_open(other, true, &h2, &err), -1);
    cr_assert_null(h2);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, "other.db"), "%s", err.msg);
    cr_log_info("full disk, new file: %s", err.msg);
    cr_assert_not(file_exists(other));

    /* with room again, the file is whole and the failed run absent */
    snprintf(filler, sizeof(filler), "%s/filler", dir);
    cr_assert_eq(unlink(filler), 0);
    cr_assert_eq(history_integrity(h, &err), 0, "%s", err.msg);
    history_close(h);
    cr_assert_eq(file_int(path, "SELECT count(*) FROM runs"), 1);
    cr_assert_eq(file_int(path, "SELECT count(*) FROM checks"), 2);
}

/*
 * A child records runs in a loop (each with k checks, k in its summary,
 * each check with k findings and an alert per run) until SIGKILL at a
 * random moment; then every run present must be whole.
 */
static void
kill_child(const char *path, unsigned seed)
{
    static struct history_finding fs[8];
    static struct history_fact xs[2] = {{"a", "1"}, {"b", "2"}};
    struct history_check cs[8];
    struct history_alert alert;
    struct history_run r;
    struct history *h;
    struct pb_err err;
    char summary[16];

    for (size_t i = 0; i < 8; i++) {
        fs[i].key = "k";
        fs[i].severity = HISTORY_WARNING;
        fs[i].summary = "finding";
    }
    if (history_open(path, true, &h, &err) == -1)
        _exit(2);
    for (;;) {
        size_t k = 1 + (size_t)(rand_r(&seed) % 8);

        for (size_t i = 0; i < k; i++) {
            make_check(&cs[i], "check", HISTORY_OK, "ok");
            cs[i].findings = fs;
            cs[i].nfindings = k;
            cs[i].facts = xs;
            cs[i].nfacts = 2;
        }
        make_run(&r, "2026-11-28T08:00:00Z", cs, k, false);
        snprintf(summary, sizeof(summary), "%zu", k);
        r.summary = summary;
        memset(&alert, 0, sizeof(alert));
        alert.payload = summary;
        if (history_record_run(h, &r, &alert, 1, &err) == -1)
            _exit(3);
    }
}

Test(history, sigkill_leaves_whole_runs, .timeout = 60)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    struct history *h;
    struct pb_err err;
    sqlite3 *db;
    int64_t runs, bad;

    cr_log_info("seed %u", seed);
    for (int i = 0; i < 100; i++) {
        unsigned child_seed = (unsigned)rand_r(&seed);
        /* the first kill may hit the creation of the file itself */
        struct timespec ts = {0, (long)(rand_r(&seed) % 40000) * 1000};
        pid_t pid = fork();
        int status;

        cr_assert_geq(pid, 0);
        if (pid == 0)
            kill_child(dbpath, child_seed);
        nanosleep(&ts, NULL);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "child ended by itself (status %d) at iteration %d", status,
                  i);
    }
    h = open_ok(dbpath, false);
    cr_assert_eq(history_integrity(h, &err), 0, "%s", err.msg);
    history_close(h);

    db = raw_open(dbpath);
    runs = raw_int(db, "SELECT count(*) FROM runs");
    cr_assert_gt(runs, 0);
    cr_log_info("%lld runs survived", (long long)runs);
    /* each run: k checks, k findings and 2 facts per check, one alert */
    bad = raw_int(db, "SELECT count(*) FROM runs AS r WHERE"
                      " (SELECT count(*) FROM checks WHERE run_id = r.id)"
                      "  != CAST(r.summary AS INTEGER)"
                      " OR (SELECT count(*) FROM findings AS f JOIN checks AS"
                      "  c ON c.id = f.check_id WHERE c.run_id = r.id)"
                      "  != CAST(r.summary AS INTEGER) * CAST(r.summary AS"
                      "  INTEGER)"
                      " OR (SELECT count(*) FROM facts AS x JOIN checks AS"
                      "  c ON c.id = x.check_id WHERE c.run_id = r.id)"
                      "  != 2 * CAST(r.summary AS INTEGER)"
                      " OR (SELECT count(*) FROM alerts WHERE run_id = r.id)"
                      "  != 1");
    cr_assert_eq(bad, 0, "%lld runs are not whole", (long long)bad);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM checks WHERE run_id NOT IN"
                             " (SELECT id FROM runs)"),
                 0);
    cr_assert_eq(raw_int(db, "SELECT count(*) FROM alerts WHERE run_id NOT IN"
                             " (SELECT id FROM runs)"),
                 0);
    sqlite3_close(db);
}

/* Overwrite the file from offset on with a pattern, keeping its size. */
static void
scribble(const char *path, off_t offset)
{
    struct stat sb;
    char junk[512];
    int fd = open(path, O_WRONLY);

    cr_assert_geq(fd, 0);
    cr_assert_eq(fstat(fd, &sb), 0);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 13 + 1);
    for (off_t at = offset; at < sb.st_size; at += (off_t)sizeof(junk))
        cr_assert_eq(pwrite(fd, junk, sizeof(junk), at), (ssize_t)sizeof(junk));
    close(fd);
}

Test(history, survives_a_corrupt_file)
{
    static const off_t offsets[] = {100, 4096, 8192, 3 * 4096 + 17};
    struct history *h;
    struct history_check c;
    struct history_run *v;
    struct history_alert *a;
    struct history_alert alert = {.payload = "{}"};
    struct pb_err err;
    char path[160];
    size_t n;

    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        snprintf(path, sizeof(path), "%s/corrupt%zu.db", tmpdir, i);
        h = open_ok(path, true);
        for (int j = 0; j < 40; j++)
            record_two(h, "2026-11-28T08:00:00Z", HISTORY_WARNING, false);
        cr_assert_eq(history_record_run(h,
                                        &(struct history_run){
                                            .started = "2026-11-28T08:00:00Z",
                                            .finished = "2026-11-28T08:00:00Z"},
                                        &alert, 1, &err),
                     0);
        history_close(h);
        /* checkpointed at close: the damage is in the file itself */
        scribble(path, offsets[i]);
        h = NULL;
        if (history_open(path, false, &h, &err) == -1) {
            cr_assert_eq(err.stage, PB_STAGE_IO);
            cr_log_info("corrupt at %lld: %s", (long long)offsets[i], err.msg);
            continue;
        }
        /* whatever each call answers, it answers without crashing */
        if (history_last_check(h, "spf", &c, &err) == 1)
            history_check_release(&c);
        if (history_runs(h, NULL, NULL, 100, &v, &n, &err) == 0)
            history_runs_free(v, n);
        if (history_pending_alerts(h, 10, &a, &n, &err) == 0)
            history_alerts_free(a, n);
        (void)history_alert_attempt(h, 1, true, NULL, &err);
        (void)history_record_run(
            h,
            &(struct history_run){.started = "2026-11-28T08:00:00Z",
                                  .finished = "2026-11-28T08:00:00Z"},
            NULL, 0, &err);
        cr_assert_eq(history_integrity(h, &err), -1);
        cr_log_info("corrupt at %lld: %s [%s]", (long long)offsets[i], err.msg,
                    err.evidence);
        history_close(h);
    }
}
