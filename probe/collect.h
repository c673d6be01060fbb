/* SPDX-License-Identifier: MIT */
/*
 * Reading a probe run back: for every readable seed, its copy found by
 * its token (X-Probe-Id) in the inbox or the spam folder, and in the
 * bounce mailbox the DSNs that name this run's tokens or Message-IDs,
 * judged by the explain engine.  One thread per folder watched (IMAP IDLE
 * where the server has it, else polling with backoff), all started and
 * logged in before the first message is sent, so nothing that arrives is
 * missed and nothing older is taken for it.
 */
#ifndef PB_PROBE_COLLECT_H
#define PB_PROBE_COLLECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "explain.h"
#include "mailbox.h"
#include "pb_err.h"

/* Folders watched at once (two per seed account, and the bounces). */
#define COLLECT_MAX_WATCHERS 129
/* The longest --wait. */
#define COLLECT_MAX_WAIT_S 3600
/* A bounce read whole up to this size (DSNs carry headers only). */
#define COLLECT_BOUNCE_MAX (1024u * 1024)
/* New messages in the bounce mailbox read in one run before giving up. */
#define COLLECT_BOUNCE_SCAN 2000

struct collect_copy {
    bool is_found;
    bool is_junk; /* found in the spam folder */
    char *folder; /* the folder's name as the server gave it */
    uint32_t uid;
    char *header; /* the copy's header block as fetched */
    size_t header_len;
    long long internaldate;
    double found_after;    /* seconds from the end of sending */
    long long found_at_ms; /* wall clock, Unix milliseconds */
    bool is_deleted;       /* --cleanup removed it */
};

struct collect_bounce {
    bool is_found;
    bool is_delayed; /* only a "delayed" DSN so far */
    char *folder;
    uint32_t uid;
    char *raw; /* the bounce as fetched (at most COLLECT_BOUNCE_MAX) */
    size_t raw_len;
    struct explain_result ex;
    size_t item; /* ex.items[item] is this seed's refusal (ex.n: none) */
    double found_after;
    bool is_deleted;
};

struct collect_seed {
    /* set by the caller */
    const char *address;
    const char *token;
    const char *message_id; /* "<...>" */
    struct mailbox *mb;     /* borrowed; NULL: send only */
    bool is_accepted;       /* the relay took it: something may arrive */

    /* results */
    struct collect_copy copy;
    struct collect_bounce bounce;
    bool has_mailbox_error;
    struct pb_err mailbox_err; /* why its mailbox could not be read */
    char junk_note[160];       /* e.g. "no spam folder found" */
};

struct collect_watcher;

struct collect {
    /* set by the caller before collect_start() */
    struct collect_seed *seeds;
    size_t n;
    struct mailbox *bounce_mb; /* NULL: no bounce mailbox */
    const struct reject_rules *rules;
    unsigned wait_ms; /* after sending, at most this long */
    bool cleanup;     /* delete what was found */

    /* results about the bounce mailbox */
    bool has_bounce_error;
    struct pb_err bounce_err;
    size_t bounces_scanned; /* messages read there */
    size_t bounces_ignored; /* of them, not about this run */

    /* internal */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct collect_watcher *w;
    size_t nw;
    size_t nready;
    bool is_sent;
    bool is_stopping;
    double sent_at; /* monotonic seconds */
    double deadline;
};

/*
 * Start one watcher per folder to read and wait (at most
 * connect deadline) until each has logged in and noted where new mail
 * will start, or failed (that is recorded for its seeds, not returned).
 * Returns 0, or -1 with err when threads cannot be started or there are
 * more than COLLECT_MAX_WATCHERS folders.  Nothing to watch is fine.
 */
int collect_start(struct collect *c, struct pb_err *err);

/* Sending is over: is_accepted of each seed is final.  The wait starts. */
void collect_sent(struct collect *c);

/*
 * Wait until every accepted seed is resolved (its copy found, or a bounce
 * for it) or wait_ms has passed, then stop and join the watchers (each
 * deletes what it found first, with cleanup).
 */
void collect_finish(struct collect *c);

/* Whether any seed or the bounce mailbox is read at all. */
bool collect_has_work(const struct collect *c);

void collect_release(struct collect *c);

#endif
