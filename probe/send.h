/* SPDX-License-Identifier: MIT */
/*
 * A send run: one probe message per seed, each with its own token, built,
 * DKIM-signed and sent through one relay (smtp_send), with everything the
 * report needs kept.  cmd_send.c fills the options from the command line;
 * report_send.c writes the result.
 */
#ifndef PB_PROBE_SEND_H
#define PB_PROBE_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "pb_err.h"
#include "profile.h"
#include "seeds.h"
#include "smtp.h"

/* One seed's message and what became of it. */
struct send_item {
    const struct seed *seed; /* borrowed from the run's seeds */
    char token[MSG_BUILD_TOKEN_LEN + 1];
    char message_id[MSG_BUILD_TOKEN_LEN + PB_LIMIT_ADDRESS + 4];
    char *msg; /* the signed message as sent */
    size_t msg_len;
    const char *rcpt[1];
    struct smtp_job job;
};

/* What a run is asked to do (all borrowed). */
struct send_options {
    const char *from;          /* header From (required) */
    const char *from_name;     /* or NULL */
    const char *envelope_from; /* MAIL FROM; NULL: from */
    const char *subject;       /* or NULL: the builder's default */
    const char *text;          /* body text or NULL */
    size_t text_len;
    const char *html;
    size_t html_len;
    const char *unsubscribe_url;
    const char *unsubscribe_mailto;
    bool one_click;
    const char *const *headers; /* extra "Name: value" fields */
    size_t nheaders;
    struct dkim_sign_params dkim[PB_LIMIT_DKIM_SIGNATURES];
    size_t ndkim;
    unsigned parallel; /* 0: the profile's, else 1 */
};

struct send_run {
    char run_id[48]; /* "20261128T061500Z-1a2b3c4d" */
    time_t started;
    time_t finished;
    const struct profile *profile; /* borrowed */
    struct smtp_relay relay;       /* points into profile */
    const struct send_options *opts;
    unsigned parallel;
    struct send_item *items;
    size_t nitems;
    size_t counts[4]; /* by enum smtp_outcome */
};

/*
 * Build and sign one message per seed (nothing is sent when one cannot be
 * built: the error names the seed).  secret is the password or access
 * token, or NULL; it must outlive the run.  Returns 0, or -1 with err.
 */
int send_prepare(struct send_run *run, const struct profile *profile,
                 const char *secret, const struct seeds *seeds,
                 const struct send_options *opts, struct pb_err *err);

/* Send every message (smtp_send) and count the outcomes. */
int send_execute(struct send_run *run, struct pb_err *err);

/* The exit code the outcomes call for: 0 all accepted, 1 a deferral,
 * 2 a rejection or failure. */
int send_exit_code(const struct send_run *run);

void send_run_release(struct send_run *run);

#endif
