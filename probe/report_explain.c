/* SPDX-License-Identifier: MIT */
/*
 * The output of `probe explain`: per input, per refusal, the category, the
 * facts it rests on, the confidence, the explanation and the fix; as text
 * or as one JSON object per input (JSON Lines for several).
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "smtp.h"

static void
str_or_null(cJSON *o, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0')
        cJSON_AddNullToObject(o, key);
    else
        report_json_str(o, key, s);
}

/* Text that is already escaped. */
static void
plain_or_null(cJSON *o, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0')
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, s);
}

static cJSON *
item_json(const struct explain_item *it)
{
    const struct reject_verdict *v = &it->verdict;
    cJSON *o = cJSON_CreateObject();

    str_or_null(o, "recipient", it->recipient);
    plain_or_null(o, "action", it->action);
    cJSON_AddBoolToObject(o, "refused", it->is_refusal);
    if (it->is_refusal) {
        cJSON_AddStringToObject(o, "category",
                                reject_category_name(v->category));
        cJSON_AddBoolToObject(o, "permanent", v->is_permanent);
    } else {
        cJSON_AddNullToObject(o, "category");
        cJSON_AddNullToObject(o, "permanent");
    }
    if (it->stage != PB_STAGE_NONE)
        cJSON_AddStringToObject(o, "stage", pb_stage_name(it->stage));
    else
        cJSON_AddNullToObject(o, "stage");
    if (it->code != 0)
        cJSON_AddNumberToObject(o, "reply", it->code);
    else
        cJSON_AddNullToObject(o, "reply");
    plain_or_null(o, "status", it->status);
    plain_or_null(o, "status_meaning",
                  it->status[0] ? smtp_status_meaning(it->status) : NULL);
    str_or_null(o, "remote_mta", it->remote_mta);
    if (it->is_refusal) {
        plain_or_null(o, "provider", v->provider);
        plain_or_null(o, "rule", v->rule);
        cJSON_AddStringToObject(o, "confidence",
                                reject_confidence_name(v->confidence));
    }
    plain_or_null(o, "evidence", it->text);
    if (it->is_refusal) {
        str_or_null(o, "explanation", v->explanation);
        str_or_null(o, "remedy", v->remedy);
        str_or_null(o, "source", v->source);
    }
    return o;
}

cJSON *
report_explain_json(const char *name, const struct explain_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *items;

    report_json_str(o, "input", name);
    cJSON_AddStringToObject(o, "kind", explain_kind_name(r->kind));
    str_or_null(o, "mta", r->mta);
    str_or_null(o, "original_message_id", r->original_message_id);
    str_or_null(o, "probe_token", r->probe_token);
    str_or_null(o, "authentication_results", r->auth_results);
    items = cJSON_AddArrayToObject(o, "results");
    for (size_t i = 0; i < r->n; i++)
        cJSON_AddItemToArray(items, item_json(&r->items[i]));
    return o;
}

cJSON *
report_explain_error_json(const char *name, const char *error)
{
    cJSON *o = cJSON_CreateObject();

    report_json_str(o, "input", name);
    cJSON_AddStringToObject(o, "kind", "error");
    report_json_str(o, "error", error);
    return o;
}

static const char *
conf_color(const struct report_style *st, enum reject_confidence c)
{
    return c == REJECT_CONF_HIGH     ? st->green
           : c == REJECT_CONF_MEDIUM ? st->yellow
                                     : st->dim;
}

void
report_explain_text(FILE *f, const char *name, const struct explain_result *r,
                    const struct report_style *st)
{
    char *n = report_escape(name);
    size_t refusals = 0;

    fprintf(f, "%s%s%s: %s", st->bold, n, st->off, explain_kind_name(r->kind));
    free(n);
    if (r->mta != NULL) {
        char *m = report_escape(r->mta);

        fprintf(f, " from %s", m);
        free(m);
    }
    fputc('\n', f);
    if (r->original_message_id != NULL) {
        char *m = report_escape(r->original_message_id);

        fprintf(f, "  original message %s", m);
        free(m);
        if (r->probe_token != NULL) {
            char *t = report_escape(r->probe_token);

            fprintf(f, ", probe token %s", t);
            free(t);
        }
        fputc('\n', f);
    }
    if (r->auth_results != NULL) {
        char *a = report_escape(r->auth_results);

        fprintf(f, "  returned Authentication-Results: %s\n", a);
        free(a);
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct explain_item *it = &r->items[i];
        const struct reject_verdict *v = &it->verdict;

        if (!it->is_refusal) {
            if (it->recipient != NULL) {
                char *a = report_escape(it->recipient);

                fprintf(f, "  %s: %s, nothing to explain\n", a,
                        it->action ? it->action : "not refused");
                free(a);
            }
            continue;
        }
        refusals++;
        fprintf(f, "\n  ");
        if (it->recipient != NULL) {
            char *a = report_escape(it->recipient);

            fprintf(f, "%s: ", a);
            free(a);
        }
        fprintf(f, "%s%s%s%s (%s, %s%s confidence%s)\n", st->bold,
                v->is_permanent ? st->red : st->yellow,
                reject_category_name(v->category), st->off,
                v->is_permanent ? "permanent" : "transient",
                conf_color(st, v->confidence),
                reject_confidence_name(v->confidence), st->off);
        fprintf(f, "    reply    ");
        if (it->stage != PB_STAGE_NONE)
            fprintf(f, "at %s: ", pb_stage_name(it->stage));
        if (it->code != 0)
            fprintf(f, "%d ", it->code);
        if (it->status[0] != '\0')
            fprintf(f, "%s (%s)", it->status, smtp_status_meaning(it->status));
        fputc('\n', f);
        if (it->text != NULL && it->text[0] != '\0')
            fprintf(f, "    text     %.600s%s\n", it->text,
                    strlen(it->text) > 600 ? "..." : "");
        if (it->remote_mta != NULL || v->provider[0] != '\0') {
            char *m = report_escape(it->remote_mta ? it->remote_mta : "");

            fprintf(f, "    server   %s%s%s%s\n", m,
                    m[0] && v->provider[0] ? " · " : "",
                    v->provider[0] ? "provider " : "", v->provider);
            free(m);
        }
        if (v->rule[0] != '\0')
            fprintf(f, "    rule     %s%s%s\n", v->rule,
                    v->source[0] ? " · " : "", v->source);
        if (v->explanation[0] != '\0')
            fprintf(f, "    why      %s\n", v->explanation);
        if (v->remedy[0] != '\0')
            fprintf(f, "    %sfix%s      %s\n", st->bold, st->off, v->remedy);
    }
    if (refusals == 0 && r->kind != EXPLAIN_BOUNCE)
        fprintf(f, "  %s\n",
                r->kind == EXPLAIN_NOT_BOUNCE
                    ? "not a bounce: no failed recipient to explain"
                : r->kind == EXPLAIN_AUTOREPLY
                    ? "an auto-reply (RFC 3834): the message was delivered"
                : r->kind == EXPLAIN_FEEDBACK
                    ? "a feedback report (RFC 5965): a recipient marked the "
                      "message as spam; no delivery failed"
                    : "no refusal in it (no 4xx or 5xx reply)");
}
