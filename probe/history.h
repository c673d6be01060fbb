/* SPDX-License-Identifier: MIT */
/*
 * The record of `probe health`: every run, each check's status, findings
 * and facts, and the alerts owed, in SQLite (WAL, a busy timeout, a schema
 * version with migrations).  A run is written in one transaction, so after
 * a crash it is wholly present or absent.  An alert is written in the same
 * transaction as its run and stays pending until it is marked delivered.
 */
#ifndef PB_PROBE_HISTORY_H
#define PB_PROBE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pb_err.h"

/* The schema version this code writes (PRAGMA user_version). */
#define HISTORY_SCHEMA_VERSION 1
/* How long a writer waits for another connection's lock (ms). */
#define HISTORY_BUSY_TIMEOUT_MS 5000

/* Monitoring-plugins statuses, as stored. */
enum history_status {
    HISTORY_OK = 0,
    HISTORY_WARNING = 1,
    HISTORY_CRITICAL = 2,
    HISTORY_UNKNOWN = 3,
};
/* "OK", "WARNING", "CRITICAL", "UNKNOWN" */
const char *history_status_name(enum history_status s);

/* A fact of a check that is bad: a failed check, a seed in spam. */
struct history_finding {
    char *key;     /* stable across runs: "spf/too-many-lookups",
                      "seed/seed@gmail.test/spf" */
    int severity;  /* HISTORY_WARNING or HISTORY_CRITICAL */
    char *summary; /* one line for people */
};

/* A value worth comparing between runs. */
struct history_fact {
    char *key;   /* "spf.lookups", "dkim.lab.key", "dmarc.policy" */
    char *value; /* text */
};

struct history_check {
    char *name; /* the check's name in the config */
    char *kind; /* "audit" or "probe" */
    enum history_status status;
    double duration_s;
    char *summary; /* one line */
    struct history_finding *findings;
    size_t nfindings;
    struct history_fact *facts;
    size_t nfacts;
};

struct history_run {
    int64_t id;        /* set by history_record_run() and the readers */
    char started[32];  /* UTC, "2026-11-28T08:00:00Z" */
    char finished[32]; /* UTC */
    enum history_status status;
    bool aborted; /* stopped by a signal before its checks finished */
    char *summary;
    struct history_check *checks;
    size_t nchecks;
};

struct history_alert {
    int64_t id;
    int64_t run_id;
    char created[32];
    char *payload; /* the JSON to POST */
    unsigned attempts;
    char *last_error; /* or NULL */
};

struct history;

/*
 * Open the database at path.  A file that does not exist is created (with
 * its schema) only when create is true and its directory exists; it is
 * never re-created over a file that cannot be opened or read.  An existing
 * empty file gets the schema too; a file this call created and could not
 * set up is removed (while still empty).  Sets WAL, synchronous=FULL, the
 * busy timeout, foreign keys, and migrates an older schema (a newer one is
 * an error).  The file and its directory must be writable (WAL keeps its
 * -wal and -shm files beside the database).  Errors (PB_STAGE_IO): PB_E_IO
 * (cannot open, not a regular file, read-only file or directory, disk
 * full, not a database, corrupt: the message says which and names the
 * file), PB_E_SYNTAX (a file with tables that is not ours, or a schema
 * newer than HISTORY_SCHEMA_VERSION); nothing is written to such a file.
 */
int history_open(const char *path, bool create, struct history **out,
                 struct pb_err *err);
void history_close(struct history *h);

/*
 * Record run and the nalerts alerts it owes in one transaction.  Sets
 * run->id, and each alert's id and run_id (and created, when it was "",
 * to now).  On failure nothing is written and none of them is set.  Text is
 * stored as given; a NULL kind, summary or fact value is stored as "".
 * Our callers' mistakes are PB_E_INTERNAL: started/finished not
 * "YYYY-MM-DDTHH:MM:SSZ", a status out of range, a NULL check name,
 * finding or fact key, or alert payload.  Database errors: PB_E_IO.
 */
int history_record_run(struct history *h, struct history_run *run,
                       struct history_alert *alerts, size_t nalerts,
                       struct pb_err *err);

/*
 * The last check named name (of the run recorded last) of a run that was
 * not aborted, with its findings and facts: 1 with out filled (release
 * with history_check_release()), 0 when there is none, -1 on error.
 */
int history_last_check(struct history *h, const char *name,
                       struct history_check *out, struct pb_err *err);

/*
 * Alerts not yet delivered, oldest first (at most max).  *out (NULL when
 * there are none) is the caller's: history_alerts_free(*out, *n).
 */
int history_pending_alerts(struct history *h, size_t max,
                           struct history_alert **out, size_t *n,
                           struct pb_err *err);
/*
 * A delivery attempt: delivered (the receiver said 2xx), or not, with why.
 * Counts the attempt and stores error (NULL clears it) as last_error; the
 * first delivery sets delivered_at.  An unknown id is PB_E_USAGE.
 */
int history_alert_attempt(struct history *h, int64_t id, bool delivered,
                          const char *error, struct pb_err *err);

/*
 * Runs for `probe history`, oldest first: all, or only those with a check
 * named check (and then only that check in each); since is a UTC time
 * ("2026-11-28", "2026-11-28T08:00:00Z") or NULL, and anything else is
 * PB_E_USAGE (PB_STAGE_USAGE).  At most max runs (the newest ones), in
 * order of started, then of recording.  Aborted runs are included.  *out
 * (NULL when there are none) is the caller's: history_runs_free(*out, *n).
 */
int history_runs(struct history *h, const char *check, const char *since,
                 size_t max, struct history_run **out, size_t *n,
                 struct pb_err *err);

void history_check_release(struct history_check *c);
void history_run_release(struct history_run *r);
void history_runs_free(struct history_run *v, size_t n);
void history_alerts_free(struct history_alert *v, size_t n);

/*
 * PRAGMA integrity_check and foreign_key_check: 0 when "ok", else -1
 * (PB_E_IO) with the first problem in err->evidence.
 */
int history_integrity(struct history *h, struct pb_err *err);

#endif
