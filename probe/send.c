/* SPDX-License-Identifier: MIT */
#include "send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_addr.h"
#include "pb_limits.h"
#include "pb_log.h"
#include "pb_xalloc.h"

static void
run_id_new(struct send_run *run, struct pb_err *err)
{
    char token[MSG_BUILD_TOKEN_LEN + 1];
    struct tm tm;

    if (msg_build_token(token, err) < 0)
        snprintf(token, sizeof(token), "%08lx", (unsigned long)run->started);
    gmtime_r(&run->started, &tm);
    strftime(run->run_id, sizeof(run->run_id), "%Y%m%dT%H%M%SZ-", &tm);
    memcpy(run->run_id + strlen(run->run_id), token, 8);
    run->run_id[strlen("YYYYmmddTHHMMSSZ-") + 8] = '\0';
}

static int
item_build(struct send_item *it, const struct send_options *o,
           struct pb_err *err)
{
    struct msg_build_params mp = {0};
    char *plain = NULL;
    size_t plain_len = 0;
    const char *domain = pb_addr_domain(o->from);

    if (msg_build_token(it->token, err) < 0)
        return -1;
    snprintf(it->message_id, sizeof(it->message_id), "<%s@%s>", it->token,
             domain ? domain : "invalid");
    it->rcpt[0] = it->seed->address;
    mp.from = o->from;
    mp.from_name = o->from_name;
    mp.to = it->rcpt;
    mp.nto = 1;
    mp.subject = o->subject;
    mp.text = o->text;
    mp.text_len = o->text_len;
    mp.html = o->html;
    mp.html_len = o->html_len;
    mp.unsubscribe_url = o->unsubscribe_url;
    mp.unsubscribe_mailto = o->unsubscribe_mailto;
    mp.one_click = o->one_click;
    mp.headers = o->headers;
    mp.nheaders = o->nheaders;
    mp.token = it->token;
    if (msg_build(&mp, &plain, &plain_len, err) < 0)
        return -1;
    if (o->ndkim == 0) {
        it->msg = plain;
        it->msg_len = plain_len;
        return 0;
    }
    if (dkim_sign_message(o->dkim, o->ndkim, plain, plain_len, &it->msg,
                          &it->msg_len, err) < 0) {
        free(plain);
        return -1;
    }
    free(plain);
    return 0;
}

int
send_prepare(struct send_run *run, const struct profile *profile,
             const char *secret, const struct seeds *seeds,
             const struct send_options *opts, struct pb_err *err)
{
    memset(run, 0, sizeof(*run));
    run->started = time(NULL);
    run_id_new(run, err);
    run->profile = profile;
    run->opts = opts;
    profile_relay(profile, secret, &run->relay);
    run->parallel = opts->parallel      ? opts->parallel
                    : profile->parallel ? profile->parallel
                                        : 1;
    if (run->parallel > SMTP_MAX_PARALLEL)
        run->parallel = SMTP_MAX_PARALLEL;

    if (pb_addr_check(opts->from, strlen(opts->from), err) < 0)
        return pb_err_prefix(err, "--from");
    if (opts->envelope_from != NULL && opts->envelope_from[0] != '\0' &&
        pb_addr_check(opts->envelope_from, strlen(opts->envelope_from), err) <
            0)
        return pb_err_prefix(err, "--envelope-from");

    run->items = pb_xcalloc(seeds->n, sizeof(*run->items));
    run->nitems = seeds->n;
    for (size_t i = 0; i < seeds->n; i++) {
        struct send_item *it = &run->items[i];

        it->seed = &seeds->v[i];
        if (item_build(it, opts, err) < 0) {
            char what[128];

            snprintf(what, sizeof(what), "the message for %.100s",
                     it->seed->address);
            return pb_err_prefix(err, what);
        }
        it->job.mail_from =
            opts->envelope_from ? opts->envelope_from : opts->from;
        it->job.rcpt = it->rcpt;
        it->job.nrcpt = 1;
        it->job.msg = it->msg;
        it->job.msg_len = it->msg_len;
    }
    log_info("run %s: %zu message(s) built%s", run->run_id, run->nitems,
             opts->ndkim ? " and DKIM-signed" : "");
    return 0;
}

int
send_execute(struct send_run *run, struct pb_err *err)
{
    struct smtp_job *jobs = pb_xcalloc(run->nitems, sizeof(*jobs));
    int rc;

    /* smtp_send takes an array of jobs; ours live in the items */
    for (size_t i = 0; i < run->nitems; i++)
        jobs[i] = run->items[i].job;
    rc = smtp_send(&run->relay, jobs, run->nitems, run->parallel, err);
    for (size_t i = 0; i < run->nitems; i++) {
        run->items[i].job = jobs[i];
        if (rc == 0)
            run->counts[jobs[i].outcome]++;
    }
    free(jobs);
    run->finished = time(NULL);
    return rc;
}

int
send_exit_code(const struct send_run *run)
{
    if (run->counts[SMTP_REJECTED] > 0 || run->counts[SMTP_FAILED] > 0)
        return 2;
    if (run->counts[SMTP_DEFERRED] > 0)
        return 1;
    return 0;
}

void
send_run_release(struct send_run *run)
{
    for (size_t i = 0; i < run->nitems; i++) {
        free(run->items[i].msg);
        smtp_job_release(&run->items[i].job);
    }
    free(run->items);
    memset(run, 0, sizeof(*run));
}
