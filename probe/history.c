/* SPDX-License-Identifier: MIT */
/*
 * The record of `probe health` in SQLite: WAL with synchronous=FULL, so a
 * run written in one BEGIN IMMEDIATE transaction survives a crash whole or
 * not at all.  The schema version lives in PRAGMA user_version and our
 * mark in PRAGMA application_id; migrations run in one transaction.  Every
 * query is a prepared statement with bound parameters, and every result
 * code is checked: a corrupt file is an error, never a crash.
 */
#include "history.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pb_buf.h"
#include "pb_xalloc.h"

/* PRAGMA application_id of our files: "PbHi". */
#define HIST_APP_ID 0x50624869
/* How much of a file name goes into an error message. */
#define HIST_SHOWN_PATH 100

/*
 * migrations[v] turns schema version v into v + 1.  Version 0 is the empty
 * file.  Append, never edit: files in the field were made by these.
 */
static const char *const hist_migrations[HISTORY_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " started TEXT NOT NULL,"
    " finished TEXT NOT NULL,"
    " status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),"
    " aborted INTEGER NOT NULL CHECK (aborted IN (0, 1)),"
    " summary TEXT NOT NULL);"
    "CREATE INDEX runs_started ON runs (started);"
    "CREATE TABLE checks ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),"
    " duration_s REAL,"
    " summary TEXT NOT NULL,"
    " UNIQUE (run_id, seq));"
    /* the last check by name: newest run first */
    "CREATE INDEX checks_name_run ON checks (name, run_id);"
    "CREATE TABLE findings ("
    " id INTEGER PRIMARY KEY,"
    " check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " severity INTEGER NOT NULL,"
    " summary TEXT NOT NULL);"
    "CREATE INDEX findings_check ON findings (check_id);"
    "CREATE TABLE facts ("
    " id INTEGER PRIMARY KEY,"
    " check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL);"
    "CREATE INDEX facts_check ON facts (check_id);"
    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " created TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " delivered_at TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT);"
    "CREATE INDEX alerts_run ON alerts (run_id);"
    "CREATE INDEX alerts_pending ON alerts (id) WHERE delivered_at IS NULL;",
};

/* The statements, prepared once per connection on first use. */
enum hist_stmt {
    HS_INSERT_RUN,
    HS_INSERT_CHECK,
    HS_INSERT_FINDING,
    HS_INSERT_FACT,
    HS_INSERT_ALERT,
    HS_LAST_CHECK,
    HS_CHECK_FINDINGS,
    HS_CHECK_FACTS,
    HS_RUN_CHECKS,
    HS_RUNS,
    HS_PENDING,
    HS_ATTEMPT,
    HS_COUNT
};

static const char *const hist_sql[HS_COUNT] = {
    [HS_INSERT_RUN] = "INSERT INTO runs (started, finished, status, aborted,"
                      " summary) VALUES (?1, ?2, ?3, ?4, ?5)",
    [HS_INSERT_CHECK] = "INSERT INTO checks (run_id, seq, name, kind, status,"
                        " duration_s, summary)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [HS_INSERT_FINDING] = "INSERT INTO findings (check_id, key, severity,"
                          " summary) VALUES (?1, ?2, ?3, ?4)",
    [HS_INSERT_FACT] = "INSERT INTO facts (check_id, key, value)"
                       " VALUES (?1, ?2, ?3)",
    [HS_INSERT_ALERT] = "INSERT INTO alerts (run_id, created, payload,"
                        " attempts, last_error) VALUES (?1, ?2, ?3, ?4, ?5)",
    [HS_LAST_CHECK] = "SELECT c.id, c.name, c.kind, c.status, c.duration_s,"
                      " c.summary FROM checks AS c"
                      " JOIN runs AS r ON r.id = c.run_id"
                      " WHERE c.name = ?1 AND r.aborted = 0"
                      " ORDER BY c.run_id DESC, c.seq DESC LIMIT 1",
    [HS_CHECK_FINDINGS] = "SELECT key, severity, summary FROM findings"
                          " WHERE check_id = ?1 ORDER BY id",
    [HS_CHECK_FACTS] = "SELECT key, value FROM facts"
                       " WHERE check_id = ?1 ORDER BY id",
    [HS_RUN_CHECKS] = "SELECT id, name, kind, status, duration_s, summary"
                      " FROM checks WHERE run_id = ?1"
                      " AND (?2 IS NULL OR name = ?2) ORDER BY seq",
    [HS_RUNS] = "SELECT id, started, finished, status, aborted, summary FROM"
                " (SELECT * FROM runs AS r WHERE r.started >= ?1"
                "  AND (?2 IS NULL OR EXISTS (SELECT 1 FROM checks AS c"
                "   WHERE c.run_id = r.id AND c.name = ?2))"
                "  ORDER BY r.started DESC, r.id DESC LIMIT ?3)"
                " ORDER BY started, id",
    [HS_PENDING] = "SELECT id, run_id, created, payload, attempts, last_error"
                   " FROM alerts WHERE delivered_at IS NULL"
                   " ORDER BY id LIMIT ?1",
    [HS_ATTEMPT] =
        "UPDATE alerts SET attempts = attempts + 1,"
        " delivered_at = CASE WHEN ?2 AND delivered_at IS NULL THEN ?3"
        "  ELSE delivered_at END,"
        " last_error = ?4 WHERE id = ?1",
};

struct history {
    sqlite3 *db;
    char shown[HIST_SHOWN_PATH + 8]; /* the file name, escaped, for errors */
    sqlite3_stmt *stmts[HS_COUNT];
};

const char *
history_status_name(enum history_status s)
{
    switch (s) {
    case HISTORY_OK:
        return "OK";
    case HISTORY_WARNING:
        return "WARNING";
    case HISTORY_CRITICAL:
        return "CRITICAL";
    case HISTORY_UNKNOWN:
        return "UNKNOWN";
    }
    return "UNKNOWN";
}

/* The file name for messages: escaped, and its tail when it is long. */
static void
hist_show_path(char *dst, size_t size, const char *path)
{
    char esc[4 * HIST_SHOWN_PATH + 4];
    size_t len = strlen(path);

    /* the tail names the file; escaping at most quadruples it */
    if (len > HIST_SHOWN_PATH)
        path += len - HIST_SHOWN_PATH;
    (void)pb_escape_to(esc, sizeof(esc), path, strlen(path));
    len = strlen(esc);
    if (len <= HIST_SHOWN_PATH)
        snprintf(dst, size, "%s", esc);
    else
        snprintf(dst, size, "...%s", esc + len - (HIST_SHOWN_PATH - 3));
}

/* Our words for what went wrong, by SQLite's primary result code. */
static const char *
hist_cause(int rc, enum pb_code *code)
{
    *code = PB_E_IO;
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return "disk full";
    case SQLITE_READONLY:
        return "read-only";
    case SQLITE_NOTADB:
        return "not a database";
    case SQLITE_CORRUPT:
        return "database is corrupt";
    case SQLITE_CANTOPEN:
        return "cannot open";
    case SQLITE_IOERR:
        return "I/O error";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "locked by another process";
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return "permission denied";
    case SQLITE_PROTOCOL:
        return "locking protocol error";
    case SQLITE_NOMEM:
        *code = PB_E_INTERNAL;
        return "out of memory";
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
        *code = PB_E_INTERNAL;
        return "library misuse";
    }
    return "database error";
}

/*
 * Fail with what we were doing (or NULL when the cause says it), our word
 * for rc and SQLite's (and the system's, where a file operation failed),
 * naming the file.
 */
static int
hist_fail_db(const char *shown, sqlite3 *db, int rc, const char *what,
             struct pb_err *err)
{
    enum pb_code code;
    const char *cause = hist_cause(rc, &code);
    const char *lib = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    char libesc[160];
    char sys[96] = "";
    int prim = rc & 0xff;
    int eno = db != NULL ? sqlite3_system_errno(db) : 0;

    (void)pb_escape_to(libesc, sizeof(libesc), lib, strlen(lib));
    if (eno != 0 && (prim == SQLITE_CANTOPEN || prim == SQLITE_IOERR ||
                     prim == SQLITE_FULL || prim == SQLITE_READONLY))
        snprintf(sys, sizeof(sys), "; %s", strerror(eno));
    if (what == NULL)
        return pb_err_set(err, PB_STAGE_IO, code, "history %s: %s (%s%s)",
                          shown, cause, libesc, sys);
    return pb_err_set(err, PB_STAGE_IO, code, "history %s: %s: %s (%s%s)",
                      shown, what, cause, libesc, sys);
}

static int
hist_fail(struct history *h, int rc, const char *what, struct pb_err *err)
{
    return hist_fail_db(h->shown, h->db, rc, what, err);
}

/* A statement ready to bind; hist_reset_all() gives it back. */
static int
hist_stmt(struct history *h, enum hist_stmt which, sqlite3_stmt **out,
          struct pb_err *err)
{
    int rc;

    *out = NULL;
    if (h->stmts[which] == NULL) {
        rc = sqlite3_prepare_v3(h->db, hist_sql[which], -1,
                                SQLITE_PREPARE_PERSISTENT, &h->stmts[which],
                                NULL);
        if (rc != SQLITE_OK)
            return hist_fail(h, rc, "cannot prepare a query", err);
    }
    (void)sqlite3_reset(h->stmts[which]);
    (void)sqlite3_clear_bindings(h->stmts[which]);
    *out = h->stmts[which];
    return 0;
}

/*
 * End every statement, so that no read transaction stays open between
 * calls (it would pin an old snapshot) and no binding outlives its text.
 */
static void
hist_reset_all(struct history *h)
{
    for (size_t i = 0; i < HS_COUNT; i++) {
        if (h->stmts[i] == NULL)
            continue;
        (void)sqlite3_reset(h->stmts[i]);
        (void)sqlite3_clear_bindings(h->stmts[i]);
    }
}

/* Run SQL of our own (no data in it) that returns no rows we need. */
static int
hist_exec(struct history *h, const char *sql, const char *what,
          struct pb_err *err)
{
    int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return hist_fail(h, rc, what, err);
    return 0;
}

/* The one integer a query of our own returns. */
static int
hist_query_int(struct history *h, const char *sql, int64_t *v,
               struct pb_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *v = 0;
    rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return hist_fail(h, rc, "cannot read the schema", err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        hist_fail(h, rc, "cannot read the schema", err);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/*
 * Whether the file is ours and which version: refuse a file with tables but
 * no version (someone else's), our version without our mark, and a version
 * newer than this code.
 */
static int
hist_schema_check(struct history *h, int64_t *version, struct pb_err *err)
{
    int64_t app_id;
    int64_t nobjects;

    if (hist_query_int(h, "PRAGMA user_version", version, err) == -1 ||
        hist_query_int(h, "PRAGMA application_id", &app_id, err) == -1 ||
        hist_query_int(h, "SELECT count(*) FROM sqlite_master", &nobjects,
                       err) == -1)
        return -1;
    if (*version > HISTORY_SCHEMA_VERSION)
        return pb_err_set(err, PB_STAGE_IO, PB_E_SYNTAX,
                          "history %s: written by a newer probe (schema "
                          "version %lld, this probe knows up to %d)",
                          h->shown, (long long)*version,
                          HISTORY_SCHEMA_VERSION);
    if ((*version == 0 && nobjects > 0) || *version < 0 ||
        (*version > 0 && app_id != HIST_APP_ID))
        return pb_err_set(err, PB_STAGE_IO, PB_E_SYNTAX,
                          "history %s: not a probe history database", h->shown);
    return 0;
}

/* Bring an older schema (or an empty file) to ours, in one transaction. */
static int
hist_migrate(struct history *h, struct pb_err *err)
{
    int64_t version;
    char sql[96];

    if (hist_schema_check(h, &version, err) == -1)
        return -1;
    if (version == HISTORY_SCHEMA_VERSION)
        return 0;
    if (hist_exec(h, "BEGIN IMMEDIATE", "cannot start the schema migration",
                  err) == -1)
        return -1;
    /* again under the write lock: another process may have migrated */
    if (hist_schema_check(h, &version, err) == -1)
        goto fail;
    for (int64_t v = version; v < HISTORY_SCHEMA_VERSION; v++)
        if (hist_exec(h, hist_migrations[v], "cannot migrate the schema",
                      err) == -1)
            goto fail;
    /* PRAGMA takes no parameters; both numbers are our constants */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
             HISTORY_SCHEMA_VERSION);
    if (hist_exec(h, sql, "cannot migrate the schema", err) == -1)
        goto fail;
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", HIST_APP_ID);
    if (hist_exec(h, sql, "cannot migrate the schema", err) == -1)
        goto fail;
    if (hist_exec(h, "COMMIT", "cannot commit the schema migration", err) == -1)
        goto fail;
    return 0;
fail:
    if (!sqlite3_get_autocommit(h->db))
        (void)sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/*
 * WAL keeps its -wal and -shm files beside the database, so the directory
 * must be writable too.  access() also sees a read-only mount (EROFS).
 */
static int
hist_check_dir(struct history *h, const char *path, bool creating,
               struct pb_err *err)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int e = 0;

    if (slash == NULL)
        dir = pb_xstrdup(".");
    else if (slash == path)
        dir = pb_xstrdup("/");
    else
        dir = pb_xmemdup(path, (size_t)(slash - path));
    if (access(dir, W_OK | X_OK) != 0)
        e = errno;
    free(dir);
    if (e != 0 && creating)
        return pb_err_set(
            err, PB_STAGE_IO, PB_E_IO,
            "history %s: cannot create: its directory %s (%s)", h->shown,
            e == ENOENT || e == ENOTDIR ? "does not exist" : "is not writable",
            strerror(e));
    if (e != 0)
        return pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                          "history %s: read-only: its directory is not "
                          "writable (%s), and the WAL journal needs its -wal "
                          "and -shm files there",
                          h->shown, strerror(e));
    return 0;
}

/* One PRAGMA that answers with a text row, e.g. journal_mode. */
static int
hist_pragma_text(struct history *h, const char *sql, char *out, size_t size,
                 struct pb_err *err)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *t;
    int rc;

    out[0] = '\0';
    rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return hist_fail(h, rc, "cannot set up the database", err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        t = sqlite3_column_text(st, 0);
        if (t != NULL)
            snprintf(out, size, "%s", (const char *)t);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        hist_fail(h, rc, "cannot set up the database", err);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

int
history_open(const char *path, bool create, struct history **out,
             struct pb_err *err)
{
    struct history *h;
    struct stat sb;
    char mode[16];
    int flags = SQLITE_OPEN_READWRITE;
    int rc;

    *out = NULL;
    h = pb_xcalloc(1, sizeof(*h));
    hist_show_path(h->shown, sizeof(h->shown), path);
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                       "history %s: not a regular file", h->shown);
            goto fail;
        }
    } else if (errno == ENOENT && create) {
        flags |= SQLITE_OPEN_CREATE;
    } else {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "history %s: cannot open: %s",
                   h->shown, strerror(errno));
        goto fail;
    }
    /* SQLite's own error would be its fallback's, opening read-only */
    if ((flags & SQLITE_OPEN_CREATE) &&
        hist_check_dir(h, path, true, err) == -1)
        goto fail;
    /* no SQLITE_OPEN_URI: the name is a file name, never a "file:" URI */
    rc = sqlite3_open_v2(path, &h->db, flags, NULL);
    if (rc != SQLITE_OK) {
        hist_fail(h, rc, NULL, err);
        goto fail;
    }
    (void)sqlite3_extended_result_codes(h->db, 1);
    rc = sqlite3_busy_timeout(h->db, HISTORY_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK) {
        hist_fail(h, rc, "cannot set up the database", err);
        goto fail;
    }
    /* SQLITE_OPEN_READWRITE quietly falls back to reading only */
    if (sqlite3_db_readonly(h->db, "main") != 0) {
        int e = access(path, W_OK) != 0 ? errno : EACCES;

        pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                   "history %s: read-only: the file or its file system is "
                   "not writable (%s)",
                   h->shown, strerror(e));
        goto fail;
    }
    if (hist_check_dir(h, path, false, err) == -1)
        goto fail;
    /* before any write: a file that is not ours is left as it is */
    {
        int64_t version;

        if (hist_schema_check(h, &version, err) == -1)
            goto fail;
    }
    if (hist_pragma_text(h, "PRAGMA journal_mode = WAL", mode, sizeof(mode),
                         err) == -1)
        goto fail;
    if (strcmp(mode, "wal") != 0) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                   "history %s: cannot switch to the WAL journal (mode "
                   "stays \"%.8s\")",
                   h->shown, mode);
        goto fail;
    }
    if (hist_exec(h, "PRAGMA synchronous = FULL", "cannot set up the database",
                  err) == -1 ||
        hist_exec(h, "PRAGMA foreign_keys = ON", "cannot set up the database",
                  err) == -1)
        goto fail;
    if (hist_migrate(h, err) == -1)
        goto fail;
    *out = h;
    return 0;
fail:
    history_close(h);
    /* a file we made and could not set up is not left behind, if empty */
    if ((flags & SQLITE_OPEN_CREATE) && stat(path, &sb) == 0 &&
        S_ISREG(sb.st_mode) && sb.st_size == 0)
        (void)unlink(path);
    return -1;
}

void
history_close(struct history *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < HS_COUNT; i++)
        sqlite3_finalize(h->stmts[i]);
    /* sqlite3_close_v2 never fails for want of finalized statements */
    (void)sqlite3_close_v2(h->db);
    free(h);
}

/* Whether p starts with n digits; their value into *v. */
static bool
hist_digits(const char *p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *v = *v * 10 + (p[i] - '0');
    }
    return true;
}

/*
 * Check s as "YYYY-MM-DDTHH:MM:SSZ" (or also "YYYY-MM-DD" when date_ok) and
 * write the full form into out[32].  The full form sorts as text in time
 * order, which the `since` filter relies on.
 */
static bool
hist_time_parse(const char *s, bool date_ok, char *out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t len = strnlen(s, 32);
    int y, mo, d, hh = 0, mi = 0, ss = 0;

    if (len != 10 && len != 20)
        return false;
    if (len == 10 && !date_ok)
        return false;
    if (!hist_digits(s, 4, &y) || s[4] != '-' || !hist_digits(s + 5, 2, &mo) ||
        s[7] != '-' || !hist_digits(s + 8, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return false;
    if (len == 20) {
        if (s[10] != 'T' || !hist_digits(s + 11, 2, &hh) || s[13] != ':' ||
            !hist_digits(s + 14, 2, &mi) || s[16] != ':' ||
            !hist_digits(s + 17, 2, &ss) || s[19] != 'Z')
            return false;
        /* RFC 3339 §5.6: a leap second is :60 */
        if (hh > 23 || mi > 59 || ss > 60)
            return false;
    }
    /* the values are checked above; the modulos tell the compiler so */
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u,
             (unsigned)mo % 100u, (unsigned)d % 100u, (unsigned)hh % 100u,
             (unsigned)mi % 100u, (unsigned)ss % 100u);
    return true;
}

/* Now, UTC, in the stored form. */
static void
hist_now(char *out, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "1970-01-01T00:00:00Z");
}

static const char *
hist_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* Step a statement that returns no rows. */
static int
hist_step_done(struct history *h, sqlite3_stmt *st, const char *what,
               struct pb_err *err)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE)
        return hist_fail(h, rc, what, err);
    return 0;
}

/* Bind helpers: every bind is checked (SQLITE_RANGE, SQLITE_TOOBIG). */
static int
hist_bind_text(struct history *h, sqlite3_stmt *st, int i, const char *s,
               struct pb_err *err)
{
    int rc = s != NULL ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
                       : sqlite3_bind_null(st, i);

    if (rc != SQLITE_OK)
        return hist_fail(h, rc, "cannot bind a value", err);
    return 0;
}

static int
hist_bind_int(struct history *h, sqlite3_stmt *st, int i, int64_t v,
              struct pb_err *err)
{
    int rc = sqlite3_bind_int64(st, i, v);

    if (rc != SQLITE_OK)
        return hist_fail(h, rc, "cannot bind a value", err);
    return 0;
}

static int
hist_bind_double(struct history *h, sqlite3_stmt *st, int i, double v,
                 struct pb_err *err)
{
    /* a NaN is stored as NULL and read back as 0 */
    int rc = sqlite3_bind_double(st, i, v);

    if (rc != SQLITE_OK)
        return hist_fail(h, rc, "cannot bind a value", err);
    return 0;
}

static bool
hist_status_ok(int s)
{
    return s >= HISTORY_OK && s <= HISTORY_UNKNOWN;
}

/* What our own code hands in: catch its mistakes before the transaction. */
static int
hist_run_check(struct history *h, const struct history_run *run,
               const struct history_alert *alerts, size_t nalerts,
               struct pb_err *err)
{
    char t[32];

    if (!hist_time_parse(run->started, false, t) ||
        !hist_time_parse(run->finished, false, t))
        return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                          "history %s: run times must be "
                          "YYYY-MM-DDTHH:MM:SSZ",
                          h->shown);
    if (!hist_status_ok((int)run->status))
        return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                          "history %s: run status %d out of range", h->shown,
                          (int)run->status);
    for (size_t i = 0; i < run->nchecks; i++) {
        const struct history_check *c = &run->checks[i];

        if (c->name == NULL)
            return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                              "history %s: check %zu has no name", h->shown, i);
        if (!hist_status_ok((int)c->status))
            return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                              "history %s: check %zu status %d out of range",
                              h->shown, i, (int)c->status);
        for (size_t j = 0; j < c->nfindings; j++)
            if (c->findings[j].key == NULL)
                return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                                  "history %s: a finding of check %zu has "
                                  "no key",
                                  h->shown, i);
        for (size_t j = 0; j < c->nfacts; j++)
            if (c->facts[j].key == NULL)
                return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                                  "history %s: a fact of check %zu has no "
                                  "key",
                                  h->shown, i);
    }
    for (size_t i = 0; i < nalerts; i++)
        if (alerts[i].payload == NULL)
            return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                              "history %s: alert %zu has no payload", h->shown,
                              i);
    return 0;
}

static int
hist_insert_check(struct history *h, int64_t run_id, size_t seq,
                  const struct history_check *c, struct pb_err *err)
{
    const char *what = "cannot record the run";
    sqlite3_stmt *st;
    int64_t check_id;

    if (hist_stmt(h, HS_INSERT_CHECK, &st, err) == -1 ||
        hist_bind_int(h, st, 1, run_id, err) == -1 ||
        hist_bind_int(h, st, 2, (int64_t)seq, err) == -1 ||
        hist_bind_text(h, st, 3, c->name, err) == -1 ||
        hist_bind_text(h, st, 4, hist_or_empty(c->kind), err) == -1 ||
        hist_bind_int(h, st, 5, c->status, err) == -1 ||
        hist_bind_double(h, st, 6, c->duration_s, err) == -1 ||
        hist_bind_text(h, st, 7, hist_or_empty(c->summary), err) == -1 ||
        hist_step_done(h, st, what, err) == -1)
        return -1;
    check_id = sqlite3_last_insert_rowid(h->db);
    for (size_t i = 0; i < c->nfindings; i++) {
        const struct history_finding *f = &c->findings[i];

        if (hist_stmt(h, HS_INSERT_FINDING, &st, err) == -1 ||
            hist_bind_int(h, st, 1, check_id, err) == -1 ||
            hist_bind_text(h, st, 2, f->key, err) == -1 ||
            hist_bind_int(h, st, 3, f->severity, err) == -1 ||
            hist_bind_text(h, st, 4, hist_or_empty(f->summary), err) == -1 ||
            hist_step_done(h, st, what, err) == -1)
            return -1;
    }
    for (size_t i = 0; i < c->nfacts; i++) {
        const struct history_fact *x = &c->facts[i];

        if (hist_stmt(h, HS_INSERT_FACT, &st, err) == -1 ||
            hist_bind_int(h, st, 1, check_id, err) == -1 ||
            hist_bind_text(h, st, 2, x->key, err) == -1 ||
            hist_bind_text(h, st, 3, hist_or_empty(x->value), err) == -1 ||
            hist_step_done(h, st, what, err) == -1)
            return -1;
    }
    return 0;
}

int
history_record_run(struct history *h, struct history_run *run,
                   struct history_alert *alerts, size_t nalerts,
                   struct pb_err *err)
{
    const char *what = "cannot record the run";
    int64_t *alert_ids = NULL;
    char now[32];
    sqlite3_stmt *st;
    int64_t run_id;
    int ret = -1;

    if (hist_run_check(h, run, alerts, nalerts, err) == -1)
        return -1;
    if (nalerts > 0)
        alert_ids = pb_xcalloc(nalerts, sizeof(*alert_ids));
    hist_now(now, sizeof(now));
    if (hist_exec(h, "BEGIN IMMEDIATE", what, err) == -1)
        goto out;
    if (hist_stmt(h, HS_INSERT_RUN, &st, err) == -1 ||
        hist_bind_text(h, st, 1, run->started, err) == -1 ||
        hist_bind_text(h, st, 2, run->finished, err) == -1 ||
        hist_bind_int(h, st, 3, run->status, err) == -1 ||
        hist_bind_int(h, st, 4, run->aborted ? 1 : 0, err) == -1 ||
        hist_bind_text(h, st, 5, hist_or_empty(run->summary), err) == -1 ||
        hist_step_done(h, st, what, err) == -1)
        goto out;
    run_id = sqlite3_last_insert_rowid(h->db);
    for (size_t i = 0; i < run->nchecks; i++)
        if (hist_insert_check(h, run_id, i, &run->checks[i], err) == -1)
            goto out;
    for (size_t i = 0; i < nalerts; i++) {
        const struct history_alert *a = &alerts[i];
        const char *created = a->created[0] != '\0' ? a->created : now;

        if (memchr(a->created, '\0', sizeof(a->created)) == NULL)
            created = now;
        if (hist_stmt(h, HS_INSERT_ALERT, &st, err) == -1 ||
            hist_bind_int(h, st, 1, run_id, err) == -1 ||
            hist_bind_text(h, st, 2, created, err) == -1 ||
            hist_bind_text(h, st, 3, a->payload, err) == -1 ||
            hist_bind_int(h, st, 4, a->attempts, err) == -1 ||
            hist_bind_text(h, st, 5, a->last_error, err) == -1 ||
            hist_step_done(h, st, what, err) == -1)
            goto out;
        alert_ids[i] = sqlite3_last_insert_rowid(h->db);
    }
    hist_reset_all(h);
    if (hist_exec(h, "COMMIT", what, err) == -1)
        goto out;
    /* written: only now tell the caller the ids */
    run->id = run_id;
    for (size_t i = 0; i < nalerts; i++) {
        alerts[i].id = alert_ids[i];
        alerts[i].run_id = run_id;
        if (alerts[i].created[0] == '\0')
            snprintf(alerts[i].created, sizeof(alerts[i].created), "%s", now);
    }
    ret = 0;
out:
    hist_reset_all(h);
    /* everything or nothing: a failed statement or COMMIT leaves none */
    if (ret == -1 && !sqlite3_get_autocommit(h->db))
        (void)sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    free(alert_ids);
    return ret;
}

/* Column i as a string we own; NULL (or a failed conversion) gives "". */
static char *
hist_col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *p = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);

    if (p == NULL || n <= 0)
        return pb_xstrdup("");
    return pb_xmemdup(p, (size_t)n);
}

/* Column i into a fixed array, cut to fit (a hostile file may hold more). */
static void
hist_col_fixed(sqlite3_stmt *st, int i, char *dst, size_t size)
{
    const unsigned char *p = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    size_t len = p != NULL && n > 0 ? (size_t)n : 0;

    if (len >= size)
        len = size - 1;
    if (len > 0)
        memcpy(dst, p, len);
    dst[len] = '\0';
}

/* A status as stored; anything else in a damaged file is UNKNOWN. */
static enum history_status
hist_col_status(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);

    if (v < HISTORY_OK || v > HISTORY_UNKNOWN)
        return HISTORY_UNKNOWN;
    return (enum history_status)v;
}

/* The findings and facts of check id into c. */
static int
hist_load_children(struct history *h, int64_t id, struct history_check *c,
                   struct pb_err *err)
{
    const char *what = "cannot read a check";
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    if (hist_stmt(h, HS_CHECK_FINDINGS, &st, err) == -1 ||
        hist_bind_int(h, st, 1, id, err) == -1)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct history_finding *f;
        int64_t sev;

        c->findings =
            pb_xgrow(c->findings, c->nfindings, &cap, 4, sizeof(*c->findings));
        f = &c->findings[c->nfindings++];
        f->key = hist_col_str(st, 0);
        sev = sqlite3_column_int64(st, 1);
        f->severity = sev >= HISTORY_OK && sev <= HISTORY_UNKNOWN
                          ? (int)sev
                          : HISTORY_UNKNOWN;
        f->summary = hist_col_str(st, 2);
    }
    if (rc != SQLITE_DONE)
        return hist_fail(h, rc, what, err);
    cap = 0;
    if (hist_stmt(h, HS_CHECK_FACTS, &st, err) == -1 ||
        hist_bind_int(h, st, 1, id, err) == -1)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct history_fact *x;

        c->facts = pb_xgrow(c->facts, c->nfacts, &cap, 4, sizeof(*c->facts));
        x = &c->facts[c->nfacts++];
        x->key = hist_col_str(st, 0);
        x->value = hist_col_str(st, 1);
    }
    if (rc != SQLITE_DONE)
        return hist_fail(h, rc, what, err);
    return 0;
}

/* A check row (id, name, kind, status, duration_s, summary) into c. */
static int64_t
hist_col_check(sqlite3_stmt *st, struct history_check *c)
{
    memset(c, 0, sizeof(*c));
    c->name = hist_col_str(st, 1);
    c->kind = hist_col_str(st, 2);
    c->status = hist_col_status(st, 3);
    c->duration_s = sqlite3_column_double(st, 4);
    c->summary = hist_col_str(st, 5);
    return sqlite3_column_int64(st, 0);
}

int
history_last_check(struct history *h, const char *name,
                   struct history_check *out, struct pb_err *err)
{
    sqlite3_stmt *st;
    int64_t id;
    int rc;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    if (hist_stmt(h, HS_LAST_CHECK, &st, err) == -1 ||
        hist_bind_text(h, st, 1, name, err) == -1)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = 0;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        hist_fail(h, rc, "cannot read the last check", err);
        goto out;
    }
    id = hist_col_check(st, out);
    (void)sqlite3_reset(st);
    if (hist_load_children(h, id, out, err) == -1) {
        history_check_release(out);
        goto out;
    }
    ret = 1;
out:
    hist_reset_all(h);
    return ret;
}

int
history_pending_alerts(struct history *h, size_t max,
                       struct history_alert **out, size_t *n,
                       struct pb_err *err)
{
    struct history_alert *v = NULL;
    size_t nv = 0;
    size_t cap = 0;
    sqlite3_stmt *st;
    int rc;
    int ret = -1;

    *out = NULL;
    *n = 0;
    if (hist_stmt(h, HS_PENDING, &st, err) == -1 ||
        hist_bind_int(h, st, 1, max > INT64_MAX ? INT64_MAX : (int64_t)max,
                      err) == -1)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct history_alert *a;
        int64_t attempts;

        v = pb_xgrow(v, nv, &cap, 8, sizeof(*v));
        a = &v[nv++];
        memset(a, 0, sizeof(*a));
        a->id = sqlite3_column_int64(st, 0);
        a->run_id = sqlite3_column_int64(st, 1);
        hist_col_fixed(st, 2, a->created, sizeof(a->created));
        a->payload = hist_col_str(st, 3);
        attempts = sqlite3_column_int64(st, 4);
        a->attempts = attempts < 0          ? 0
                      : attempts > UINT_MAX ? UINT_MAX
                                            : (unsigned)attempts;
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            a->last_error = hist_col_str(st, 5);
    }
    if (rc != SQLITE_DONE) {
        hist_fail(h, rc, "cannot read the pending alerts", err);
        goto out;
    }
    *out = v;
    *n = nv;
    v = NULL;
    nv = 0;
    ret = 0;
out:
    hist_reset_all(h);
    history_alerts_free(v, nv);
    return ret;
}

int
history_alert_attempt(struct history *h, int64_t id, bool delivered,
                      const char *error, struct pb_err *err)
{
    sqlite3_stmt *st;
    char now[32];
    int ret = -1;

    hist_now(now, sizeof(now));
    if (hist_stmt(h, HS_ATTEMPT, &st, err) == -1 ||
        hist_bind_int(h, st, 1, id, err) == -1 ||
        hist_bind_int(h, st, 2, delivered ? 1 : 0, err) == -1 ||
        hist_bind_text(h, st, 3, now, err) == -1 ||
        hist_bind_text(h, st, 4, error, err) == -1 ||
        hist_step_done(h, st, "cannot record the alert attempt", err) == -1)
        goto out;
    if (sqlite3_changes(h->db) != 1) {
        pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE, "history %s: no alert %lld",
                   h->shown, (long long)id);
        goto out;
    }
    ret = 0;
out:
    hist_reset_all(h);
    return ret;
}

/* The checks of run r (all, or only those named check). */
static int
hist_load_checks(struct history *h, struct history_run *r, const char *check,
                 struct pb_err *err)
{
    sqlite3_stmt *st;
    int64_t *ids = NULL;
    size_t cap = 0;
    int rc;
    int ret = -1;

    if (hist_stmt(h, HS_RUN_CHECKS, &st, err) == -1 ||
        hist_bind_int(h, st, 1, r->id, err) == -1 ||
        hist_bind_text(h, st, 2, check, err) == -1)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->nchecks == cap) {
            cap = cap == 0 ? 8 : 2 * cap;
            r->checks = pb_xreallocarray(r->checks, cap, sizeof(*r->checks));
            ids = pb_xreallocarray(ids, cap, sizeof(*ids));
        }
        ids[r->nchecks] = hist_col_check(st, &r->checks[r->nchecks]);
        r->nchecks++;
    }
    if (rc != SQLITE_DONE) {
        hist_fail(h, rc, "cannot read the checks of a run", err);
        goto out;
    }
    (void)sqlite3_reset(st);
    for (size_t i = 0; i < r->nchecks; i++)
        if (hist_load_children(h, ids[i], &r->checks[i], err) == -1)
            goto out;
    ret = 0;
out:
    free(ids);
    return ret;
}

int
history_runs(struct history *h, const char *check, const char *since,
             size_t max, struct history_run **out, size_t *n,
             struct pb_err *err)
{
    struct history_run *v = NULL;
    size_t nv = 0;
    size_t cap = 0;
    char from[32] = "";
    char shown[64];
    sqlite3_stmt *st;
    int rc;
    int ret = -1;

    *out = NULL;
    *n = 0;
    if (since != NULL && !hist_time_parse(since, true, from)) {
        (void)pb_escape_to(shown, sizeof(shown), since, strnlen(since, 40));
        return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                          "since `%s`: expected a UTC time YYYY-MM-DD or "
                          "YYYY-MM-DDTHH:MM:SSZ",
                          shown);
    }
    /*
     * A read transaction, so the runs and their checks are one snapshot
     * even while another process records.
     */
    if (hist_exec(h, "BEGIN", "cannot read the runs", err) == -1)
        return -1;
    if (hist_stmt(h, HS_RUNS, &st, err) == -1 ||
        hist_bind_text(h, st, 1, from, err) == -1 ||
        hist_bind_text(h, st, 2, check, err) == -1 ||
        hist_bind_int(h, st, 3, max > INT64_MAX ? INT64_MAX : (int64_t)max,
                      err) == -1)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct history_run *r;

        v = pb_xgrow(v, nv, &cap, 8, sizeof(*v));
        r = &v[nv++];
        memset(r, 0, sizeof(*r));
        r->id = sqlite3_column_int64(st, 0);
        hist_col_fixed(st, 1, r->started, sizeof(r->started));
        hist_col_fixed(st, 2, r->finished, sizeof(r->finished));
        r->status = hist_col_status(st, 3);
        r->aborted = sqlite3_column_int64(st, 4) != 0;
        r->summary = hist_col_str(st, 5);
    }
    if (rc != SQLITE_DONE) {
        hist_fail(h, rc, "cannot read the runs", err);
        goto out;
    }
    (void)sqlite3_reset(st);
    for (size_t i = 0; i < nv; i++)
        if (hist_load_checks(h, &v[i], check, err) == -1)
            goto out;
    *out = v;
    *n = nv;
    v = NULL;
    nv = 0;
    ret = 0;
out:
    hist_reset_all(h);
    if (!sqlite3_get_autocommit(h->db))
        (void)sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
    history_runs_free(v, nv);
    return ret;
}

void
history_check_release(struct history_check *c)
{
    if (c == NULL)
        return;
    free(c->name);
    free(c->kind);
    free(c->summary);
    for (size_t i = 0; i < c->nfindings; i++) {
        free(c->findings[i].key);
        free(c->findings[i].summary);
    }
    free(c->findings);
    for (size_t i = 0; i < c->nfacts; i++) {
        free(c->facts[i].key);
        free(c->facts[i].value);
    }
    free(c->facts);
    memset(c, 0, sizeof(*c));
}

void
history_run_release(struct history_run *r)
{
    if (r == NULL)
        return;
    free(r->summary);
    for (size_t i = 0; i < r->nchecks; i++)
        history_check_release(&r->checks[i]);
    free(r->checks);
    memset(r, 0, sizeof(*r));
}

void
history_runs_free(struct history_run *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        history_run_release(&v[i]);
    free(v);
}

void
history_alerts_free(struct history_alert *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].payload);
        free(v[i].last_error);
    }
    free(v);
}

int
history_integrity(struct history *h, struct pb_err *err)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *t;
    int rc;
    int ret = -1;

    rc = sqlite3_prepare_v2(h->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return hist_fail(h, rc, "cannot check integrity", err);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        hist_fail(h, rc, "cannot check integrity", err);
        goto out;
    }
    t = sqlite3_column_text(st, 0);
    if (t == NULL || strcmp((const char *)t, "ok") != 0) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                   "history %s: integrity check failed", h->shown);
        if (t != NULL) {
            /* the first problem: one line, after SQLite's heading */
            const char *p = (const char *)t;
            const char *nl;

            if (strncmp(p, "*** ", 4) == 0 && strchr(p, '\n') != NULL)
                p = strchr(p, '\n') + 1;
            nl = strchr(p, '\n');
            pb_err_evidence(err, p, nl != NULL ? (size_t)(nl - p) : strlen(p));
        }
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* rows whose parent is missing: a run that is not whole */
    rc = sqlite3_prepare_v2(h->db, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        hist_fail(h, rc, "cannot check integrity", err);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char table[40];

        t = sqlite3_column_text(st, 0);
        (void)pb_escape_to(table, sizeof(table),
                           t != NULL ? t : (const unsigned char *)"?",
                           t != NULL ? (size_t)sqlite3_column_bytes(st, 0) : 1);
        pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                   "history %s: integrity check failed: a row of %s "
                   "lost its parent",
                   h->shown, table);
        goto out;
    }
    if (rc != SQLITE_DONE) {
        hist_fail(h, rc, "cannot check integrity", err);
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}
