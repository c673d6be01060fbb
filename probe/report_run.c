/* SPDX-License-Identifier: MIT */
/*
 * The report of a whole probe run: one row per seed (where the message
 * went, the receiver's SPF, DKIM and DMARC results, the check that failed
 * and why), the remedies under the table, and the JSON report of
 * docs/json.md: the `probe send` report with, per seed, delivery,
 * auth_results, bounce and verdict, and the run's audit.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "send.h"
#include "verdict.h"

static const char *
outcome_color(const struct report_style *st, const struct seed_verdict *v)
{
    switch (v->outcome) {
    case VERDICT_INBOX:
        return v->is_clean ? st->green : st->yellow;
    case VERDICT_ACCEPTED:
        return st->green;
    case VERDICT_SPAM:
    case VERDICT_DEFERRED:
        return st->yellow;
    default:
        return st->red;
    }
}

static const char *
ar_word(const struct authres_result *r)
{
    return r ? authres_status_name(r->status) : "-";
}

static const char *
ar_color(const struct report_style *st, const struct authres_result *r)
{
    if (r == NULL)
        return st->dim;
    if (r->status == AUTHRES_PASS)
        return st->green;
    if (r->status == AUTHRES_NONE || r->status == AUTHRES_NEUTRAL)
        return st->yellow;
    return st->red;
}

void
report_run_text(FILE *f, const struct send_run *run, const struct collect *col,
                const struct run_verdicts *rv, const struct report_style *st,
                bool with_transcripts)
{
    size_t width = 4, nrem = 0;

    report_send_header(f, run, st);
    for (size_t i = 0; i < run->nitems; i++) {
        size_t n = strlen(run->items[i].seed->address);

        if (n > width)
            width = n;
    }
    if (width > 36)
        width = 36;
    fprintf(f, "  %s%-*s  %-8s %-15s %-5s %-5s %-6s %-20s %s%s\n", st->dim,
            (int)width, "SEED", "OUTCOME", "WHERE", "SPF", "DKIM", "DMARC",
            "CHECK", "REASON", st->off);
    for (size_t i = 0; i < rv->n; i++) {
        const struct seed_verdict *v = &rv->v[i];
        const struct collect_seed *cs = &col->seeds[i];
        const struct verdict_auth *au = &v->auth;
        char *addr = report_escape(run->items[i].seed->address);
        char where[64] = "-", check[40] = "-";

        if (cs->copy.is_found) {
            char *fold = report_escape(cs->copy.folder);

            if (v->has_latency)
                snprintf(where, sizeof(where), "%.9s %.0fs", fold,
                         v->latency_s);
            else
                snprintf(where, sizeof(where), "%.15s", fold);
            free(fold);
        } else if (v->outcome == VERDICT_REJECTED ||
                   v->outcome == VERDICT_DEFERRED) {
            snprintf(where, sizeof(where), "relay %s", pb_stage_name(v->stage));
        } else if (v->outcome == VERDICT_BOUNCED ||
                   (v->outcome == VERDICT_DEFERRED && cs->bounce.is_found)) {
            snprintf(where, sizeof(where), "%.15s",
                     v->reporting_mta ? v->reporting_mta : "receiver");
        }
        if (v->has_category)
            snprintf(check, sizeof(check), "%s (%s)",
                     reject_category_name(v->rv.category),
                     reject_confidence_name(v->rv.confidence));
        fprintf(f,
                "  %-*s  %s%-8s%s %-15s %s%-5s%s %s%-5s%s %s%-6s%s %-20s %s\n",
                (int)width, addr, outcome_color(st, v),
                verdict_outcome_name(v->outcome), st->off, where,
                ar_color(st, au->spf), ar_word(au->spf), st->off,
                ar_color(st, au->dkim), ar_word(au->dkim), st->off,
                ar_color(st, au->dmarc), ar_word(au->dmarc), st->off, check,
                v->summary);
        free(addr);
        if (v->has_category)
            nrem++;
    }

    if (nrem > 0)
        fprintf(f, "\n%sWhat failed and what to fix%s\n", st->bold, st->off);
    for (size_t i = 0; i < rv->n; i++) {
        const struct seed_verdict *v = &rv->v[i];
        char *addr;

        if (!v->has_category)
            continue;
        addr = report_escape(run->items[i].seed->address);
        fprintf(f, "\n  %s%s%s: %s, %s confidence", st->bold, addr, st->off,
                reject_category_name(v->rv.category),
                reject_confidence_name(v->rv.confidence));
        if (v->status[0] != '\0')
            fprintf(f, "  (%s: %s)", v->status, smtp_status_meaning(v->status));
        fputc('\n', f);
        if (v->rv.explanation[0] != '\0')
            fprintf(f, "    %s\n", v->rv.explanation);
        for (size_t k = 0; k < v->nevidence; k++)
            fprintf(f, "    %s- %s%s\n", st->dim, v->evidence[k], st->off);
        if (v->rv.remedy[0] != '\0')
            fprintf(f, "    %sfix:%s %s\n", st->green, st->off, v->rv.remedy);
        free(addr);
    }
    if (col->has_bounce_error)
        fprintf(f, "\n%swarning:%s the bounce mailbox could not be read: %s\n",
                st->yellow, st->off, col->bounce_err.msg);

    fprintf(f, "\n%zu seed%s:", rv->n, rv->n == 1 ? "" : "s");
    {
        bool first = true;

        for (int k = 0; k < VERDICT_COUNT; k++) {
            if (rv->counts[k] == 0)
                continue;
            fprintf(f, "%s %zu %s", first ? "" : ",", rv->counts[k],
                    verdict_outcome_name((enum verdict_outcome)k));
            first = false;
        }
    }
    if (rv->egress_ip[0] != '\0')
        fprintf(f, "; relay sends from %s", rv->egress_ip);
    fputc('\n', f);
    if (with_transcripts)
        report_send_transcripts(f, run, st);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

static void
str_or_null(cJSON *o, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0')
        cJSON_AddNullToObject(o, key);
    else
        report_json_str(o, key, s);
}

static cJSON *
result_json(const struct authres_result *r)
{
    cJSON *o, *props;

    if (r == NULL)
        return cJSON_CreateNull();
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "result", authres_status_name(r->status));
    report_json_str(o, "word", r->result);
    str_or_null(o, "reason", r->reason);
    props = cJSON_AddObjectToObject(o, "properties");
    for (size_t i = 0; i < r->nprops; i++) {
        char key[160];

        snprintf(key, sizeof(key), "%s%s%s", r->props[i].ptype,
                 r->props[i].ptype[0] ? "." : "", r->props[i].property);
        if (cJSON_GetObjectItemCaseSensitive(props, key) == NULL)
            report_json_str(props, key, r->props[i].value);
    }
    if (r->ncomments > 0) {
        cJSON *c = cJSON_AddArrayToObject(o, "comments");

        for (size_t i = 0; i < r->ncomments; i++) {
            char *e = report_escape(r->comments[i]);

            cJSON_AddItemToArray(c, cJSON_CreateString(e));
            free(e);
        }
    }
    return o;
}

static cJSON *
auth_json(const struct verdict_auth *au)
{
    cJSON *o = cJSON_CreateObject(), *fields;

    cJSON_AddItemToObject(o, "spf", result_json(au->spf));
    cJSON_AddItemToObject(o, "dkim", result_json(au->dkim));
    cJSON_AddItemToObject(o, "dmarc", result_json(au->dmarc));
    cJSON_AddItemToObject(o, "arc", result_json(au->arc));
    cJSON_AddItemToObject(o, "iprev", result_json(au->iprev));
    fields = cJSON_AddArrayToObject(o, "fields");
    for (size_t i = 0; i < au->n; i++) {
        const struct authres *a = &au->fields[i];
        cJSON *fo = cJSON_CreateObject(), *res;

        str_or_null(fo, "authserv_id", a->authserv_id);
        cJSON_AddStringToObject(fo, "trust", authres_trust_name(au->trust[i]));
        cJSON_AddBoolToObject(fo, "believed", au->trust[i] == AUTHRES_TRUSTED);
        cJSON_AddBoolToObject(fo, "in_message_as_sent", i >= au->n - au->nsent);
        res = cJSON_AddArrayToObject(fo, "results");
        for (size_t k = 0; k < a->nresults; k++) {
            cJSON *ro = cJSON_CreateObject();

            report_json_str(ro, "method", a->results[k].method);
            cJSON_AddStringToObject(ro, "result",
                                    authres_status_name(a->results[k].status));
            cJSON_AddItemToArray(res, ro);
        }
        cJSON_AddItemToArray(fields, fo);
    }
    cJSON_AddNumberToObject(o, "not_believed", (double)au->nforeign);
    return o;
}

static cJSON *
verdict_json(const struct seed_verdict *v)
{
    cJSON *o = cJSON_CreateObject(), *ev;

    cJSON_AddStringToObject(o, "outcome", verdict_outcome_name(v->outcome));
    if (v->has_category) {
        cJSON_AddStringToObject(o, "category",
                                reject_category_name(v->rv.category));
        cJSON_AddStringToObject(o, "confidence",
                                reject_confidence_name(v->rv.confidence));
        cJSON_AddBoolToObject(o, "permanent", v->rv.is_permanent);
        str_or_null(o, "provider", v->rv.provider);
        str_or_null(o, "rule", v->rv.rule);
        str_or_null(o, "explanation", v->rv.explanation);
        str_or_null(o, "remedy", v->rv.remedy);
        str_or_null(o, "source", v->rv.source);
    } else {
        cJSON_AddNullToObject(o, "category");
        cJSON_AddNullToObject(o, "confidence");
    }
    cJSON_AddStringToObject(o, "stage", pb_stage_name(v->stage));
    if (v->code != 0)
        cJSON_AddNumberToObject(o, "code", v->code);
    else
        cJSON_AddNullToObject(o, "code");
    str_or_null(o, "status", v->status);
    if (v->status[0] != '\0')
        cJSON_AddStringToObject(o, "status_meaning",
                                smtp_status_meaning(v->status));
    if (v->reply != NULL)
        cJSON_AddStringToObject(o, "reply", v->reply); /* escaped */
    else
        cJSON_AddNullToObject(o, "reply");
    str_or_null(o, "reporting_mta", v->reporting_mta);
    cJSON_AddStringToObject(o, "summary", v->summary);
    ev = cJSON_AddArrayToObject(o, "evidence");
    for (size_t k = 0; k < v->nevidence; k++)
        cJSON_AddItemToArray(ev, cJSON_CreateString(v->evidence[k]));
    cJSON_AddBoolToObject(o, "authenticated_aligned", v->is_clean);
    return o;
}

static cJSON *
delivery_json(const struct collect_seed *cs, const struct seed_verdict *v)
{
    cJSON *o;

    if (cs->mb == NULL)
        return cJSON_CreateNull();
    o = cJSON_CreateObject();
    report_json_str(o, "mailbox", cs->mb->user);
    report_json_str(o, "imap_host", cs->mb->host);
    cJSON_AddNumberToObject(o, "imap_port", cs->mb->port);
    cJSON_AddStringToObject(
        o, "placement",
        cs->copy.is_found ? (cs->copy.is_junk ? "spam" : "inbox") : "missing");
    str_or_null(o, "folder", cs->copy.folder);
    if (cs->copy.is_found) {
        cJSON_AddNumberToObject(o, "uid", cs->copy.uid);
        cJSON_AddNumberToObject(o, "found_after_s",
                                (double)(long)(cs->copy.found_after * 1000) /
                                    1000.0);
        cJSON_AddNumberToObject(o, "found_at_ms", (double)cs->copy.found_at_ms);
    }
    if (v->has_latency)
        cJSON_AddNumberToObject(o, "latency_s", v->latency_s);
    else
        cJSON_AddNullToObject(o, "latency_s");
    str_or_null(o, "received_from_ip", v->egress_ip);
    str_or_null(o, "received_by", v->received_by);
    cJSON_AddBoolToObject(o, "deleted", cs->copy.is_deleted);
    if (cs->has_mailbox_error) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");

        cJSON_AddStringToObject(e, "stage",
                                pb_stage_name(cs->mailbox_err.stage));
        cJSON_AddStringToObject(e, "code", pb_code_name(cs->mailbox_err.code));
        cJSON_AddStringToObject(e, "message", cs->mailbox_err.msg);
        str_or_null(e, "evidence", cs->mailbox_err.evidence);
    } else {
        cJSON_AddNullToObject(o, "error");
    }
    str_or_null(o, "note", cs->junk_note);
    return o;
}

static cJSON *
bounce_json(const struct collect_seed *cs)
{
    const struct collect_bounce *b = &cs->bounce;
    cJSON *o;

    if (!b->is_found)
        return cJSON_CreateNull();
    o = report_explain_json("bounce", &b->ex);
    report_json_str(o, "folder", b->folder);
    cJSON_AddNumberToObject(o, "uid", b->uid);
    cJSON_AddNumberToObject(o, "found_after_s",
                            (double)(long)(b->found_after * 1000) / 1000.0);
    cJSON_AddBoolToObject(o, "delayed_only", b->is_delayed);
    cJSON_AddBoolToObject(o, "deleted", b->is_deleted);
    return o;
}

static cJSON *
audit_json(const struct run_verdicts *rv)
{
    cJSON *o = cJSON_CreateObject();

    str_or_null(o, "egress_ip", rv->egress_ip);
    str_or_null(o, "egress_source", rv->egress_source);
    if (rv->has_audit)
        cJSON_AddItemToObject(o, "check", report_check_json(&rv->audit));
    else
        cJSON_AddNullToObject(o, "check");
    if (rv->has_spf_mfrom) {
        cJSON *s = cJSON_AddObjectToObject(o, "spf_envelope");

        report_json_str(s, "domain", rv->mfrom_domain);
        report_json_str(s, "ip", rv->egress_ip);
        cJSON_AddStringToObject(s, "result",
                                spf_result_name(rv->spf_mfrom.result));
        str_or_null(s, "reason", rv->spf_mfrom.reason);
    } else {
        cJSON_AddNullToObject(o, "spf_envelope");
    }
    if (rv->has_self_dkim) {
        cJSON *a = cJSON_AddArrayToObject(o, "dkim_sent");

        for (size_t i = 0; i < rv->self_dkim.nresults; i++) {
            const struct dkim_verify_result *r = &rv->self_dkim.results[i];
            cJSON *d = cJSON_CreateObject();

            report_json_str(d, "d", r->d);
            report_json_str(d, "s", r->s);
            cJSON_AddStringToObject(d, "result",
                                    dkim_verify_status_name(r->status));
            cJSON_AddStringToObject(d, "why", r->why);
            cJSON_AddItemToArray(a, d);
        }
    } else {
        cJSON_AddNullToObject(o, "dkim_sent");
    }
    return o;
}

cJSON *
report_run_json(const struct send_run *run, const struct collect *col,
                const struct run_verdicts *rv, unsigned wait_s, int exit_code)
{
    cJSON *o = report_send_json(run, exit_code);
    cJSON *seeds = cJSON_GetObjectItemCaseSensitive(o, "seeds");
    cJSON *sum = cJSON_GetObjectItemCaseSensitive(o, "summary");
    cJSON *outs, *bm;

    cJSON_AddNumberToObject(o, "wait_s", wait_s);
    bm = cJSON_AddObjectToObject(o, "bounce_mailbox");
    if (col->bounce_mb != NULL) {
        report_json_str(bm, "mailbox", col->bounce_mb->user);
        report_json_str(bm, "imap_host", col->bounce_mb->host);
        cJSON_AddNumberToObject(bm, "scanned", (double)col->bounces_scanned);
        cJSON_AddNumberToObject(bm, "ignored", (double)col->bounces_ignored);
        if (col->has_bounce_error)
            report_json_str(bm, "error", col->bounce_err.msg);
        else
            cJSON_AddNullToObject(bm, "error");
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "bounce_mailbox");
        cJSON_AddNullToObject(o, "bounce_mailbox");
    }
    cJSON_AddItemToObject(o, "audit", audit_json(rv));
    for (size_t i = 0; i < rv->n; i++) {
        cJSON *s = cJSON_GetArrayItem(seeds, (int)i);

        if (s == NULL)
            break;
        cJSON_AddItemToObject(s, "delivery",
                              delivery_json(&col->seeds[i], &rv->v[i]));
        cJSON_AddItemToObject(s, "auth_results",
                              rv->v[i].auth.n || col->seeds[i].copy.is_found
                                  ? auth_json(&rv->v[i].auth)
                                  : cJSON_CreateNull());
        cJSON_AddItemToObject(s, "bounce", bounce_json(&col->seeds[i]));
        cJSON_AddItemToObject(s, "verdict", verdict_json(&rv->v[i]));
    }
    outs = cJSON_AddObjectToObject(sum, "outcomes");
    for (int k = 0; k < VERDICT_COUNT; k++)
        cJSON_AddNumberToObject(outs,
                                verdict_outcome_name((enum verdict_outcome)k),
                                (double)rv->counts[k]);
    return o;
}
