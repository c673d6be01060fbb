/* SPDX-License-Identifier: MIT */
/*
 * The report of `probe send`: a per-seed table for a person, and the JSON
 * report of docs/json.md ("probe send") with every seed's SMTP outcome
 * and its whole transcript.  Outside text is escaped on the way in.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_transcript.h"
#include "send.h"

static void
iso_time(char *dst, size_t size, time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
iso_time_ms(char *dst, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];

    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(dst, size, "%s.%03dZ", base, (int)(ms % 1000));
}

static void
json_str_or_null(cJSON *o, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0')
        cJSON_AddNullToObject(o, key);
    else
        report_json_str(o, key, s);
}

/* Text that is already escaped (reply texts, TLS facts). */
static void
json_plain(cJSON *o, const char *key, const char *s)
{
    if (s == NULL)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, s);
}

static cJSON *
relay_json(const struct send_run *run)
{
    const struct profile *p = run->profile;
    cJSON *o = cJSON_CreateObject();

    report_json_str(o, "profile", p->name);
    json_str_or_null(o, "path", p->path);
    report_json_str(o, "host", p->host);
    json_str_or_null(o, "address", p->address);
    cJSON_AddNumberToObject(o, "port", p->port);
    cJSON_AddStringToObject(o, "tls", smtp_tls_name(p->tls));
    cJSON_AddBoolToObject(o, "verify_certificate", !p->insecure);
    json_str_or_null(o, "ca_file", p->ca_file);
    report_json_str(o, "helo", run->relay.helo ? run->relay.helo : NULL);
    cJSON_AddStringToObject(o, "auth", smtp_auth_name(p->auth));
    json_str_or_null(o, "user", p->user);
    json_str_or_null(o, "source_address", p->source_address);
    cJSON_AddNumberToObject(o, "parallel", run->parallel);
    return o;
}

static cJSON *
message_json(const struct send_run *run)
{
    const struct send_options *o = run->opts;
    cJSON *m = cJSON_CreateObject();
    cJSON *dkim = cJSON_AddArrayToObject(m, "dkim");

    report_json_str(m, "from", o->from);
    report_json_str(m, "envelope_from",
                    o->envelope_from ? o->envelope_from : o->from);
    json_str_or_null(m, "subject", o->subject);
    for (size_t i = 0; i < o->ndkim; i++) {
        const struct dkim_sign_params *d = &o->dkim[i];
        cJSON *s = cJSON_CreateObject();
        char c[32];

        report_json_str(s, "domain", d->domain);
        report_json_str(s, "selector", d->selector);
        cJSON_AddStringToObject(s, "algorithm",
                                dkim_sign_alg_name(dkim_sign_key_alg(d->key)));
        cJSON_AddNumberToObject(s, "key_bits", dkim_sign_key_bits(d->key));
        snprintf(c, sizeof(c), "%s/%s",
                 d->header_canon == DKIM_CANON_RELAXED ? "relaxed" : "simple",
                 d->body_canon == DKIM_CANON_RELAXED ? "relaxed" : "simple");
        cJSON_AddStringToObject(s, "canonicalization", c);
        cJSON_AddItemToArray(dkim, s);
    }
    return m;
}

static cJSON *
reply_json(int code, const char *status, const char *text)
{
    cJSON *r;

    if (code == 0)
        return cJSON_CreateNull();
    r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "code", code);
    json_str_or_null(r, "status", status);
    if (status != NULL && status[0] != '\0')
        json_plain(r, "status_meaning", smtp_status_meaning(status));
    json_plain(r, "text", text);
    return r;
}

static cJSON *
error_json(const struct pb_err *e)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "stage", pb_stage_name(e->stage));
    cJSON_AddStringToObject(o, "code", pb_code_name(e->code));
    if (e->reply != 0)
        cJSON_AddNumberToObject(o, "reply", e->reply);
    else
        cJSON_AddNullToObject(o, "reply");
    json_str_or_null(o, "status", e->status);
    if (e->status[0] != '\0')
        json_plain(o, "status_meaning", smtp_status_meaning(e->status));
    json_plain(o, "message", e->msg);
    if (e->evidence[0] != '\0')
        json_plain(o, "evidence", e->evidence);
    else
        cJSON_AddNullToObject(o, "evidence");
    return o;
}

static cJSON *
tls_json(const struct smtp_tls_info *t, enum smtp_tls mode)
{
    cJSON *o;

    if (!t->active && t->verify_result[0] == '\0')
        return cJSON_CreateNull();
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "mode", smtp_tls_name(mode));
    json_str_or_null(o, "version", t->version);
    json_str_or_null(o, "cipher", t->cipher);
    json_str_or_null(o, "subject", t->subject);
    json_str_or_null(o, "issuer", t->issuer);
    json_str_or_null(o, "not_after", t->not_after);
    cJSON_AddBoolToObject(o, "verified", t->verified);
    json_str_or_null(o, "verify_result", t->verify_result);
    return o;
}

cJSON *
report_transcript_json(const struct pb_transcript *t)
{
    cJSON *a = cJSON_CreateArray();
    size_t n = pb_transcript_count(t);

    for (size_t i = 0; i < n; i++) {
        const struct pb_transcript_entry *e = pb_transcript_entry(t, i);
        cJSON *o = cJSON_CreateObject();
        char when[40];
        size_t len = e->len;
        char *text;

        if (len > 0 && e->p[len - 1] == '\n')
            len--;
        if (len > 0 && e->p[len - 1] == '\r')
            len--;
        iso_time_ms(when, sizeof(when), e->t_ms);
        cJSON_AddStringToObject(o, "t", when);
        cJSON_AddNumberToObject(o, "ms", (double)e->rel_ms);
        cJSON_AddStringToObject(o, "dir", pb_transcript_dir_name(e->dir));
        text = report_escape_n(e->p, len);
        cJSON_AddStringToObject(o, "text", text);
        free(text);
        cJSON_AddItemToArray(a, o);
    }
    if (pb_transcript_dropped(t) > 0) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "dir", "NOTE");
        cJSON_AddNumberToObject(o, "dropped_bytes",
                                (double)pb_transcript_dropped(t));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static cJSON *
item_json(const struct send_run *run, const struct send_item *it)
{
    const struct smtp_job *j = &it->job;
    cJSON *o = cJSON_CreateObject();
    cJSON *smtp, *rcpts;

    report_json_str(o, "address", it->seed->address);
    json_str_or_null(o, "provider", it->seed->provider);
    cJSON_AddStringToObject(o, "token", it->token);
    report_json_str(o, "message_id", it->message_id);
    cJSON_AddNumberToObject(o, "message_bytes", (double)it->msg_len);
    cJSON_AddStringToObject(o, "outcome", smtp_outcome_name(j->outcome));

    smtp = cJSON_AddObjectToObject(o, "smtp");
    cJSON_AddStringToObject(smtp, "stage", pb_stage_name(j->stage));
    if (j->outcome == SMTP_ACCEPTED)
        cJSON_AddNullToObject(smtp, "error");
    else
        cJSON_AddItemToObject(smtp, "error", error_json(&j->err));
    rcpts = cJSON_AddArrayToObject(smtp, "rcpt");
    for (size_t i = 0; j->rcpts != NULL && i < j->nrcpt; i++) {
        const struct smtp_rcpt_result *r = &j->rcpts[i];
        cJSON *ro = cJSON_CreateObject();

        report_json_str(ro, "address", r->addr);
        if (r->code != 0)
            cJSON_AddNumberToObject(ro, "code", r->code);
        else
            cJSON_AddNullToObject(ro, "code");
        json_str_or_null(ro, "status", r->status);
        json_plain(ro, "text", r->code ? r->text : NULL);
        cJSON_AddItemToArray(rcpts, ro);
    }
    cJSON_AddItemToObject(
        smtp, "final",
        reply_json(j->final_code, j->final_status, j->final_text));
    cJSON_AddItemToObject(smtp, "tls", tls_json(&j->tls, run->relay.tls));
    cJSON_AddBoolToObject(smtp, "connection_reused", j->reused);
    cJSON_AddNumberToObject(smtp, "elapsed_ms", (double)j->elapsed_ms);
    if (j->transcript != NULL)
        cJSON_AddItemToObject(o, "transcript",
                              report_transcript_json(j->transcript));
    else
        cJSON_AddItemToObject(o, "transcript", cJSON_CreateArray());
    return o;
}

cJSON *
report_send_json(const struct send_run *run, int exit_code)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *seeds, *sum;
    char when[40];

    cJSON_AddStringToObject(o, "probe", PROBE_VERSION);
    cJSON_AddStringToObject(o, "command", "send");
    cJSON_AddStringToObject(o, "run_id", run->run_id);
    iso_time(when, sizeof(when), run->started);
    cJSON_AddStringToObject(o, "started", when);
    iso_time(when, sizeof(when), run->finished ? run->finished : run->started);
    cJSON_AddStringToObject(o, "finished", when);
    cJSON_AddItemToObject(o, "relay", relay_json(run));
    cJSON_AddItemToObject(o, "message", message_json(run));
    seeds = cJSON_AddArrayToObject(o, "seeds");
    for (size_t i = 0; i < run->nitems; i++)
        cJSON_AddItemToArray(seeds, item_json(run, &run->items[i]));
    sum = cJSON_AddObjectToObject(o, "summary");
    cJSON_AddNumberToObject(sum, "seeds", (double)run->nitems);
    for (int k = SMTP_ACCEPTED; k <= SMTP_FAILED; k++)
        cJSON_AddNumberToObject(sum, smtp_outcome_name((enum smtp_outcome)k),
                                (double)run->counts[k]);
    cJSON_AddNumberToObject(o, "exit", exit_code);
    return o;
}

static const char *
outcome_color(const struct report_style *st, enum smtp_outcome o)
{
    switch (o) {
    case SMTP_ACCEPTED:
        return st->green;
    case SMTP_DEFERRED:
        return st->yellow;
    default:
        return st->red;
    }
}

void
report_send_header(FILE *f, const struct send_run *run,
                   const struct report_style *st)
{
    const struct profile *p = run->profile;
    char *host = report_escape(p->host);
    char *name = report_escape(p->name);

    fprintf(f, "%sprobe send%s  run %s\n", st->bold, st->off, run->run_id);
    fprintf(f, "relay   %s: %s:%u%s%s, %s", name, host, p->port,
            p->address ? " via " : "", p->address ? p->address : "",
            p->tls == SMTP_TLS_STARTTLS   ? "STARTTLS required"
            : p->tls == SMTP_TLS_IMPLICIT ? "TLS"
                                          : "no TLS");
    if (p->auth != SMTP_AUTH_NONE) {
        char *user = report_escape(p->user ? p->user : "");

        fprintf(f, ", AUTH %s as %s", smtp_auth_name(p->auth), user);
        free(user);
    }
    fprintf(f, "\n");
    free(host);
    free(name);
    {
        char *from = report_escape(run->opts->from);

        fprintf(f, "from    %s", from);
        free(from);
    }
    for (size_t i = 0; i < run->opts->ndkim; i++) {
        const struct dkim_sign_params *d = &run->opts->dkim[i];

        fprintf(f, "%s DKIM d=%s s=%s %s", i == 0 ? "," : " +", d->domain,
                d->selector, dkim_sign_alg_name(dkim_sign_key_alg(d->key)));
    }
    if (run->opts->ndkim == 0)
        fprintf(f, ", not DKIM-signed");
    fprintf(f, "\n\n");
}

void
report_send_transcripts(FILE *f, const struct send_run *run,
                        const struct report_style *st)
{
    for (size_t i = 0; i < run->nitems; i++) {
        const struct send_item *it = &run->items[i];
        struct pb_buf b;
        char *addr = report_escape(it->seed->address);

        fprintf(f, "\n%s== %s%s\n", st->bold, addr, st->off);
        free(addr);
        if (it->job.transcript == NULL)
            continue;
        pb_buf_init(&b, 64u * 1024 * 1024);
        if (pb_transcript_render_text(it->job.transcript, &b) < 0)
            fprintf(f, "(transcript cut: too long to print)\n");
        fwrite(pb_buf_ptr(&b), 1, b.len, f);
        pb_buf_release(&b);
    }
}

void
report_send_text(FILE *f, const struct send_run *run,
                 const struct report_style *st, bool with_transcripts)
{
    size_t width = 4;

    report_send_header(f, run, st);
    for (size_t i = 0; i < run->nitems; i++) {
        size_t n = strlen(run->items[i].seed->address);

        if (n > width)
            width = n;
    }
    if (width > 40)
        width = 40;
    fprintf(f, "  %s%-*s  %-9s %-8s %s%s\n", st->dim, (int)width, "SEED",
            "RESULT", "STAGE", "REPLY", st->off);
    for (size_t i = 0; i < run->nitems; i++) {
        const struct send_item *it = &run->items[i];
        const struct smtp_job *j = &it->job;
        char *addr = report_escape(it->seed->address);

        fprintf(f, "  %-*s  %s%-9s%s %-8s ", (int)width, addr,
                outcome_color(st, j->outcome), smtp_outcome_name(j->outcome),
                st->off, pb_stage_name(j->stage));
        if (j->outcome == SMTP_ACCEPTED)
            fprintf(f, "%d %s\n", j->final_code, j->final_text);
        else if (j->err.reply != 0)
            fprintf(f, "%d %s\n", j->err.reply, j->err.evidence);
        else
            fprintf(f, "%s\n", j->err.msg);
        if (j->err.status[0] != '\0' && j->outcome != SMTP_ACCEPTED)
            fprintf(f, "  %-*s  %s%s: %s%s\n", (int)width, "", st->dim,
                    j->err.status, smtp_status_meaning(j->err.status), st->off);
        free(addr);
    }
    for (size_t i = 0; i < run->nitems; i++) {
        const struct smtp_tls_info *t = &run->items[i].job.tls;

        if (!t->active)
            continue;
        fprintf(f,
                "\ntls     %s %s; certificate %s, issuer %s, expires %s; "
                "%s%s%s\n",
                t->version, t->cipher, t->subject, t->issuer, t->not_after,
                t->verified ? st->green : st->yellow,
                t->verified ? "verified" : t->verify_result, st->off);
        break;
    }
    fprintf(f,
            "\n%zu seed%s: %zu accepted, %zu deferred, %zu rejected, "
            "%zu failed\n",
            run->nitems, run->nitems == 1 ? "" : "s",
            run->counts[SMTP_ACCEPTED], run->counts[SMTP_DEFERRED],
            run->counts[SMTP_REJECTED], run->counts[SMTP_FAILED]);

    if (with_transcripts)
        report_send_transcripts(f, run, st);
}
