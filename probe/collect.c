/* SPDX-License-Identifier: MIT */
#include "collect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pb_clock.h"
#include "pb_signal.h"
#include "pb_log.h"
#include "pb_xalloc.h"

/* Polling without IDLE: the first pause, doubled up to the last. */
#define COLLECT_POLL_FIRST_MS 500
#define COLLECT_POLL_MAX_MS   8000
/*
 * IDLE is re-issued this often, so a watcher notices that another one
 * resolved its seeds (or the wait ended) without a signal of its own.
 */
#define COLLECT_IDLE_SLICE_MS 1000

enum watch_kind {
    WATCH_INBOX = 0,
    WATCH_JUNK,
    WATCH_BOUNCES,
};

struct collect_watcher {
    struct collect *c;
    enum watch_kind kind;
    struct mailbox *mb;
    size_t *seeds; /* indexes of the seeds whose copies land here */
    size_t nseeds;
    pthread_t thread;
    bool is_started;
    bool is_ready; /* logged in, folder selected (or failed) */
    bool has_failed;
    struct imap_conn *conn;
    char *folder;
    uint32_t uidnext; /* where new mail starts; 0 unknown */
};

static double
now_s(void)
{
    return pb_clock_mono_s();
}

static long long
wall_ms(void)
{
    return pb_clock_wall_ms();
}

static bool
seed_is_resolved(const struct collect_seed *s)
{
    return !s->is_accepted || s->copy.is_found ||
           (s->bounce.is_found && !s->bounce.is_delayed);
}

/* Under c->mu. */
static bool
all_resolved(const struct collect *c, const size_t *idx, size_t n)
{
    for (size_t i = 0; i < (idx ? n : c->n); i++)
        if (!seed_is_resolved(&c->seeds[idx ? idx[i] : i]))
            return false;
    return true;
}

/* Under c->mu: the watcher has nothing left to do. */
static bool
watcher_done(const struct collect_watcher *w)
{
    const struct collect *c = w->c;

    if (c->is_stopping || now_s() >= c->deadline)
        return true;
    if (!c->is_sent)
        return false;
    if (w->kind == WATCH_BOUNCES)
        return all_resolved(c, NULL, 0);
    return all_resolved(c, w->seeds, w->nseeds);
}

static void
watcher_fail(struct collect_watcher *w, const struct pb_err *err)
{
    struct collect *c = w->c;

    pthread_mutex_lock(&c->mu);
    w->has_failed = true;
    if (w->kind == WATCH_BOUNCES) {
        if (!c->has_bounce_error) {
            c->has_bounce_error = true;
            c->bounce_err = *err;
        }
    } else {
        for (size_t i = 0; i < w->nseeds; i++) {
            struct collect_seed *s = &c->seeds[w->seeds[i]];

            if (!s->has_mailbox_error) {
                s->has_mailbox_error = true;
                s->mailbox_err = *err;
            }
        }
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void
watcher_ready(struct collect_watcher *w)
{
    struct collect *c = w->c;

    pthread_mutex_lock(&c->mu);
    w->is_ready = true;
    c->nready++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* The spam folder: the seed's junk=, SPECIAL-USE \Junk, then the
   profile's names that the server has. */
static int
junk_folder(struct collect_watcher *w, char **name, struct pb_err *err)
{
    struct mailbox *m = w->mb;

    *name = NULL;
    if (m->junk != NULL) {
        *name = pb_xstrdup(m->junk);
        return 0;
    }
    if (imap_find_special(w->conn, "\\Junk", name, err) < 0)
        return -1;
    if (*name != NULL)
        return 0;
    for (size_t i = 0; i < m->njunk_names; i++) {
        uint32_t v, next;
        struct pb_err e;

        pb_err_clear(&e);
        if (imap_select(w->conn, m->junk_names[i], true, &v, &next, &e) == 0) {
            *name = pb_xstrdup(m->junk_names[i]);
            return 0;
        }
        if (e.code != PB_E_PERMFAIL) {
            *err = e;
            return -1;
        }
    }
    return 0;
}

static int
watcher_open(struct collect_watcher *w, struct pb_err *err)
{
    struct imap_params p;
    uint32_t validity;

    mailbox_imap_params(w->mb, &p);
    if (imap_open(&p, &w->conn, err) < 0)
        return -1;
    if (w->kind == WATCH_JUNK) {
        if (junk_folder(w, &w->folder, err) < 0)
            return -1;
        if (w->folder == NULL) {
            struct collect *c = w->c;

            pthread_mutex_lock(&c->mu);
            for (size_t i = 0; i < w->nseeds; i++)
                snprintf(c->seeds[w->seeds[i]].junk_note,
                         sizeof(c->seeds[0].junk_note),
                         "no spam folder found (no \\Junk folder, none of "
                         "the provider's names): name it with junk=");
            pthread_mutex_unlock(&c->mu);
            return 1;
        }
    } else {
        w->folder = pb_xstrdup(w->mb->inbox);
    }
    if (imap_select(w->conn, w->folder, !w->c->cleanup, &validity, &w->uidnext,
                    err) < 0)
        return -1;
    log_debug("imap %s: watching %s from UID %u", w->mb->label, w->folder,
              (unsigned)w->uidnext);
    return 0;
}

/* Look for the copies of this watcher's unresolved seeds. */
static int
watcher_search_copies(struct collect_watcher *w, struct pb_err *err)
{
    struct collect *c = w->c;

    for (size_t i = 0; i < w->nseeds; i++) {
        struct collect_seed *s = &c->seeds[w->seeds[i]];
        uint32_t *uids = NULL;
        size_t n = 0;
        char *hdr = NULL;
        size_t hlen = 0;
        long long idate = 0;
        bool is_wanted;

        pthread_mutex_lock(&c->mu);
        is_wanted = s->is_accepted && !s->copy.is_found;
        pthread_mutex_unlock(&c->mu);
        if (!is_wanted)
            continue;
        if (imap_search_header(w->conn, "X-Probe-Id", s->token, w->uidnext,
                               &uids, &n, err) < 0)
            return -1;
        if (n == 0) {
            free(uids);
            continue;
        }
        if (imap_fetch(w->conn, uids[0], true, 0, &hdr, &hlen, &idate, err) <
            0) {
            free(uids);
            return -1;
        }
        if (hdr == NULL) { /* expunged meanwhile */
            free(uids);
            continue;
        }
        pthread_mutex_lock(&c->mu);
        if (!s->copy.is_found) {
            s->copy.is_found = true;
            s->copy.is_junk = w->kind == WATCH_JUNK;
            s->copy.folder = pb_xstrdup(w->folder);
            s->copy.uid = uids[0];
            s->copy.header = hdr;
            s->copy.header_len = hlen;
            s->copy.internaldate = idate;
            s->copy.found_after = now_s() - c->sent_at;
            s->copy.found_at_ms = wall_ms();
            hdr = NULL;
            log_info("%s: copy found in %s after %.2f s", s->address, w->folder,
                     s->copy.found_after);
            pthread_cond_broadcast(&c->cv);
        }
        pthread_mutex_unlock(&c->mu);
        free(hdr);
        free(uids);
    }
    return 0;
}

/* The seed a judged bounce is about, or c->n. */
static size_t
bounce_seed(const struct collect *c, const struct explain_result *ex)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct collect_seed *s = &c->seeds[i];

        if (ex->probe_token != NULL && strcmp(ex->probe_token, s->token) == 0)
            return i;
        if (ex->original_message_id != NULL &&
            strcasecmp(ex->original_message_id, s->message_id) == 0)
            return i;
    }
    return c->n;
}

static size_t
bounce_item(const struct explain_result *ex, const char *address)
{
    size_t first = ex->n;

    for (size_t i = 0; i < ex->n; i++) {
        if (!ex->items[i].is_refusal)
            continue;
        if (ex->items[i].recipient != NULL &&
            strcasecmp(ex->items[i].recipient, address) == 0)
            return i;
        if (first == ex->n)
            first = i;
    }
    return first;
}

static bool
bounce_is_delayed(const struct explain_result *ex, size_t item)
{
    const char *a;

    if (item >= ex->n)
        return false;
    a = ex->items[item].action;
    return a != NULL && strcasecmp(a, "delayed") == 0;
}

/* Read the messages that arrived in the bounce mailbox since last time. */
static int
watcher_scan_bounces(struct collect_watcher *w, struct pb_err *err)
{
    struct collect *c = w->c;
    uint32_t *uids = NULL;
    size_t n = 0;

    if (imap_search_from(w->conn, w->uidnext, &uids, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct explain_result ex;
        struct pb_err e;
        char *raw = NULL;
        size_t len = 0, which, item;

        if (uids[i] >= w->uidnext)
            w->uidnext = uids[i] + 1;
        if (c->bounces_scanned >= COLLECT_BOUNCE_SCAN)
            break;
        if (imap_fetch(w->conn, uids[i], false, COLLECT_BOUNCE_MAX, &raw, &len,
                       NULL, err) < 0) {
            free(uids);
            return -1;
        }
        pthread_mutex_lock(&c->mu);
        c->bounces_scanned++;
        pthread_mutex_unlock(&c->mu);
        if (raw == NULL)
            continue;
        memset(&ex, 0, sizeof(ex));
        pb_err_clear(&e);
        if (explain_input(c->rules, "bounce", raw, len, &ex, &e) < 0 ||
            (which = bounce_seed(c, &ex)) == c->n) {
            /* not ours: another run's, or any other mail */
            explain_result_release(&ex);
            free(raw);
            pthread_mutex_lock(&c->mu);
            c->bounces_ignored++;
            pthread_mutex_unlock(&c->mu);
            continue;
        }
        item = bounce_item(&ex, c->seeds[which].address);
        pthread_mutex_lock(&c->mu);
        {
            struct collect_bounce *b = &c->seeds[which].bounce;
            bool is_delayed = bounce_is_delayed(&ex, item);

            /* a failure replaces a delay notice; the first failure stays */
            if (!b->is_found || (b->is_delayed && !is_delayed)) {
                free(b->folder);
                free(b->raw);
                explain_result_release(&b->ex);
                b->is_found = true;
                b->is_delayed = is_delayed;
                b->folder = pb_xstrdup(w->folder);
                b->uid = uids[i];
                b->raw = raw;
                b->raw_len = len;
                b->ex = ex;
                b->item = item;
                b->found_after = now_s() - c->sent_at;
                raw = NULL;
                memset(&ex, 0, sizeof(ex));
                log_info("%s: bounce found after %.2f s",
                         c->seeds[which].address, b->found_after);
                pthread_cond_broadcast(&c->cv);
            }
        }
        pthread_mutex_unlock(&c->mu);
        explain_result_release(&ex);
        free(raw);
    }
    free(uids);
    return 0;
}

/* --cleanup: remove what this watcher found. */
static void
watcher_cleanup(struct collect_watcher *w)
{
    struct collect *c = w->c;
    uint32_t *uids = pb_xcalloc(c->n + 1, sizeof(*uids));
    size_t n = 0;
    bool all = false;
    struct pb_err e;

    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n; i++) {
        struct collect_seed *s = &c->seeds[i];

        if (w->kind == WATCH_BOUNCES) {
            if (s->bounce.is_found && s->bounce.folder != NULL &&
                strcmp(s->bounce.folder, w->folder) == 0)
                uids[n++] = s->bounce.uid;
        } else if (s->mb != NULL && mailbox_same_account(s->mb, w->mb) &&
                   s->copy.is_found &&
                   s->copy.is_junk == (w->kind == WATCH_JUNK)) {
            uids[n++] = s->copy.uid;
        }
    }
    pthread_mutex_unlock(&c->mu);
    pb_err_clear(&e);
    if (n > 0 && imap_delete(w->conn, uids, n, &all, &e) == 0) {
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->n; i++) {
            struct collect_seed *s = &c->seeds[i];

            for (size_t k = 0; k < n; k++) {
                if (w->kind == WATCH_BOUNCES && s->bounce.is_found &&
                    s->bounce.uid == uids[k])
                    s->bounce.is_deleted = true;
                else if (w->kind != WATCH_BOUNCES && s->copy.is_found &&
                         s->copy.uid == uids[k] && s->mb != NULL &&
                         mailbox_same_account(s->mb, w->mb) &&
                         s->copy.is_junk == (w->kind == WATCH_JUNK))
                    s->copy.is_deleted = true;
            }
        }
        pthread_mutex_unlock(&c->mu);
    } else if (n > 0) {
        log_warn("imap %s: --cleanup: %s", w->mb->label, e.msg);
    }
    free(uids);
}

static void *
watcher_main(void *arg)
{
    struct collect_watcher *w = arg;
    struct collect *c = w->c;
    unsigned poll_ms = COLLECT_POLL_FIRST_MS;
    struct pb_err err;
    int rc;

    pb_err_clear(&err);
    rc = watcher_open(w, &err);
    if (rc < 0)
        watcher_fail(w, &err);
    watcher_ready(w);
    if (rc != 0)
        goto out;

    /* nothing is searched before the messages are sent */
    pthread_mutex_lock(&c->mu);
    while (!c->is_sent && !c->is_stopping)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);

    for (;;) {
        bool is_done;
        double left;
        unsigned slice;
        int wr;

        rc = w->kind == WATCH_BOUNCES ? watcher_scan_bounces(w, &err)
                                      : watcher_search_copies(w, &err);
        if (rc < 0) {
            watcher_fail(w, &err);
            break;
        }
        pthread_mutex_lock(&c->mu);
        is_done = watcher_done(w);
        pthread_mutex_unlock(&c->mu);
        if (is_done)
            break;
        left = (c->deadline - now_s()) * 1000.0;
        if (imap_has_idle(w->conn)) {
            slice = COLLECT_IDLE_SLICE_MS;
        } else {
            slice = poll_ms;
            if (poll_ms < COLLECT_POLL_MAX_MS)
                poll_ms *= 2;
        }
        if (left < slice)
            slice = left < 1 ? 1 : (unsigned)left;
        wr = imap_wait(w->conn, slice, &err);
        if (wr < 0) {
            watcher_fail(w, &err);
            break;
        }
    }
    if (c->cleanup && !w->has_failed)
        watcher_cleanup(w);
out:
    imap_close(w->conn);
    w->conn = NULL;
    return NULL;
}

bool
collect_has_work(const struct collect *c)
{
    if (c->bounce_mb != NULL)
        return true;
    for (size_t i = 0; i < c->n; i++)
        if (c->seeds[i].mb != NULL)
            return true;
    return false;
}

static struct collect_watcher *
watcher_add(struct collect *c, enum watch_kind kind, struct mailbox *mb)
{
    struct collect_watcher *w = &c->w[c->nw++];

    memset(w, 0, sizeof(*w));
    w->c = c;
    w->kind = kind;
    w->mb = mb;
    w->seeds = pb_xcalloc(c->n ? c->n : 1, sizeof(*w->seeds));
    return w;
}

int
collect_start(struct collect *c, struct pb_err *err)
{
    size_t nacc = 0;
    double until;

    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->w = pb_xcalloc(COLLECT_MAX_WATCHERS, sizeof(*c->w));
    c->deadline = now_s() + 3600.0 * 24; /* until collect_sent() */

    /* one inbox and one junk watcher per account */
    for (size_t i = 0; i < c->n; i++) {
        struct mailbox *mb = c->seeds[i].mb;
        struct collect_watcher *in = NULL, *junk = NULL;

        if (mb == NULL)
            continue;
        for (size_t k = 0; k < c->nw; k++)
            if (c->w[k].kind == WATCH_INBOX &&
                mailbox_same_account(c->w[k].mb, mb)) {
                in = &c->w[k];
                junk = &c->w[k + 1];
            }
        if (in == NULL) {
            if (c->nw + 2 > COLLECT_MAX_WATCHERS - 1)
                return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                                  "more than %d seed mailboxes to read at "
                                  "once",
                                  (COLLECT_MAX_WATCHERS - 1) / 2);
            in = watcher_add(c, WATCH_INBOX, mb);
            junk = watcher_add(c, WATCH_JUNK, mb);
            nacc++;
        }
        in->seeds[in->nseeds++] = i;
        junk->seeds[junk->nseeds++] = i;
    }
    if (c->bounce_mb != NULL)
        watcher_add(c, WATCH_BOUNCES, c->bounce_mb);
    if (c->nw > 0)
        log_info("reading %zu seed mailbox(es)%s before sending", nacc,
                 c->bounce_mb ? " and the bounce mailbox" : "");

    for (size_t k = 0; k < c->nw; k++) {
        if (pthread_create(&c->w[k].thread, NULL, watcher_main, &c->w[k]) !=
            0) {
            pthread_mutex_lock(&c->mu);
            c->is_stopping = true;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                              "cannot start a thread to read mailboxes");
        }
        c->w[k].is_started = true;
    }
    /* imap_open() and SELECT are bounded by their own deadlines */
    until = now_s() + 120;
    pthread_mutex_lock(&c->mu);
    while (c->nready < c->nw && now_s() < until && !pb_signal_stopping()) {
        struct timespec ts;

        pb_clock_realtime_in(&ts, 1000);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void
collect_sent(struct collect *c)
{
    pthread_mutex_lock(&c->mu);
    c->is_sent = true;
    c->sent_at = now_s();
    c->deadline = c->sent_at + c->wait_ms / 1000.0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void
collect_finish(struct collect *c)
{
    if (c->w == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->is_sent = true;
    if (c->sent_at == 0) {
        c->sent_at = now_s();
        c->deadline = c->sent_at + c->wait_ms / 1000.0;
    }
    while (!c->is_stopping && !all_resolved(c, NULL, 0) &&
           now_s() < c->deadline && !pb_signal_stopping()) {
        struct timespec ts;

        pb_clock_realtime_in(&ts, 200);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    c->is_stopping = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    for (size_t k = 0; k < c->nw; k++)
        if (c->w[k].is_started) {
            pthread_join(c->w[k].thread, NULL);
            c->w[k].is_started = false;
        }
}

void
collect_release(struct collect *c)
{
    if (c->w != NULL) {
        collect_finish(c);
        for (size_t k = 0; k < c->nw; k++) {
            free(c->w[k].seeds);
            free(c->w[k].folder);
        }
        free(c->w);
        c->w = NULL;
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    for (size_t i = 0; i < c->n; i++) {
        struct collect_seed *s = &c->seeds[i];

        free(s->copy.folder);
        free(s->copy.header);
        free(s->bounce.folder);
        free(s->bounce.raw);
        explain_result_release(&s->bounce.ex);
        memset(&s->copy, 0, sizeof(s->copy));
        memset(&s->bounce, 0, sizeof(s->bounce));
    }
}
