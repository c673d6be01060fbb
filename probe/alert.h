/* SPDX-License-Identifier: MIT */
/*
 * Alerts of `probe health`: a JSON document POSTed to a webhook (Slack and
 * Microsoft Teams incoming webhooks read its "text").  The URL is a secret
 * (whoever has it can post): it never reaches a message, only its host.
 */
#ifndef PB_PROBE_ALERT_H
#define PB_PROBE_ALERT_H

#include <stddef.h>

#include "pb_err.h"

/* Largest reply body read from a webhook (the rest is dropped). */
#define ALERT_LIMIT_REPLY 4096

/*
 * POST (payload, len) as application/json to url (http or https), with
 * the header "Idempotency-Key: key" so a receiver can drop a repeat,
 * within timeout_ms for the whole request.  Returns 0 for a 2xx reply,
 * -1 with err otherwise (PB_STAGE_IO; PB_E_NETWORK, PB_E_TIMEOUT,
 * PB_E_TEMPFAIL for a 5xx or 429, PB_E_PERMFAIL for another status;
 * err->msg names the host, never the whole URL).
 */
int alert_post(const char *url, const char *payload, size_t len,
               const char *key, unsigned timeout_ms, struct pb_err *err);

/* The host of an http(s) URL, for messages ("hooks.slack.com"), written
   to dst; "?" when it has none. */
void alert_url_host(const char *url, char *dst, size_t size);

#endif
