/* SPDX-License-Identifier: MIT */
/*
 * The output of `probe explain`: per input, per refusal, the category, the
 * facts it rests on, the confidence, the explanation and the fix; as text
 * or as one JSON object per input (JSON Lines for several).
 */
#include "report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "smtp.h"

/*
 * The JSON object of one input is written directly, as the bytes
 * cJSON_PrintUnformatted() gives (keys in this order, strings escaped as
 * cJSON does): `probe explain --json` writes thousands of them, and
 * building cJSON trees took as long as reading the bounces.
 * report_explain_json() parses the same line back, so both are one format.
 */

/*
 * The length of the run of (p, len) that needs no escape, eight bytes at a
 * time: is_pb adds what report_escape() escapes (bytes from 0x7f up) to
 * what JSON does (below 0x20, '"' and '\\').
 */
static size_t
plain_run(const unsigned char *p, size_t len, bool is_pb)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;

    for (; len - i >= 8; i += 8) {
        uint64_t w, q, b;

        memcpy(&w, p + i, sizeof(w));
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        /* a byte below 0x20, a '"' or a '\\' (x has a zero byte when
           (x - ones) & ~x & highs) */
        if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) &
            highs)
            break;
        q = w ^ (ones * 0x7f);
        if (is_pb && ((w & highs) || ((q - ones) & ~q & highs)))
            break;
    }
    for (; i < len; i++) {
        unsigned char c = p[i];

        if (c < 0x20 || c == '"' || c == '\\' || (is_pb && c >= 0x7f))
            break;
    }
    return i;
}

static void
json_add(struct pb_buf *o, bool *full, const char *p, size_t len)
{
    if (pb_buf_add(o, p, len) == -1)
        *full = true;
}

/* A string literal, its length known. */
#define json_lit(o, full, s) json_add((o), (full), (s), sizeof(s) - 1)

/* A JSON string's contents, (p, len) escaped as cJSON's
   print_string_ptr(). */
static void
json_chars(struct pb_buf *o, bool *full, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;

    while (i < len) {
        size_t run = i;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        unsigned char c;

        run += plain_run(u + run, len - run, false);
        json_add(o, full, p + i, run - i);
        if (run == len)
            break;
        c = u[run];
        switch (c) {
        case '"':
        case '\\':
            e[1] = (char)c;
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            n = 6;
            break;
        }
        json_add(o, full, e, n);
        i = run + 1;
    }
}

/* Text as it is (already escaped, or ours): a string, or null when NULL
   or empty.  key: ",\"name\":". */
static void
plain_or_null(struct pb_buf *o, bool *full, const char *key, size_t keylen,
              const char *s)
{
    json_add(o, full, key, keylen);
    if (s == NULL || s[0] == '\0') {
        json_lit(o, full, "null");
        return;
    }
    json_lit(o, full, "\"");
    json_chars(o, full, s, strlen(s));
    json_lit(o, full, "\"");
}

#define PLAIN(o, full, k, s) plain_or_null((o), (full), k, sizeof(k) - 1, (s))

/* Outside text, escaped as report_escape() does, then as a JSON string;
   null when NULL (or empty, unless is_empty_ok). */
static void
escaped(struct pb_buf *o, bool *full, const char *key, size_t keylen,
        const char *s, bool is_empty_ok)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t len, i = 0;

    json_add(o, full, key, keylen);
    if (s == NULL || (s[0] == '\0' && !is_empty_ok)) {
        json_lit(o, full, "null");
        return;
    }
    json_lit(o, full, "\"");
    len = strlen(s);
    /* report_escape(): printable ASCII stays but '\\'; then JSON's own
     * escapes of '"' and '\\' (report_escape()'s output has no other byte
     * JSON escapes) */
    while (i < len) {
        size_t run = i;
        char e[5] = {'\\', '\\', 0, 0, 0};
        size_t n = 3;
        unsigned char c;

        run += plain_run(u + run, len - run, true);
        json_add(o, full, s + i, run - i);
        if (run == len)
            break;
        c = u[run];
        switch (c) {
        case '"':
            e[1] = '"';
            n = 2;
            break;
        case '\\':
            e[2] = '\\';
            e[3] = '\\';
            n = 4;
            break;
        case '\r':
            e[2] = 'r';
            break;
        case '\n':
            e[2] = 'n';
            break;
        case '\t':
            e[2] = 't';
            break;
        default:
            e[2] = 'x';
            e[3] = hex[c >> 4];
            e[4] = hex[c & 15];
            n = 5;
            break;
        }
        json_add(o, full, e, n);
        i = run + 1;
    }
    json_lit(o, full, "\"");
}

#define ESCAPED(o, full, k, s) \
    escaped((o), (full), k, sizeof(k) - 1, (s), false)

static void
item_line(struct pb_buf *o, bool *full, const struct explain_item *it)
{
    const struct reject_verdict *v = &it->verdict;
    char num[16];

    escaped(o, full, "{\"recipient\":", sizeof("{\"recipient\":") - 1,
            it->recipient, false);
    PLAIN(o, full, ",\"action\":", it->action);
    if (it->is_refusal) {
        json_lit(o, full, ",\"refused\":true");
        PLAIN(o, full, ",\"category\":", reject_category_name(v->category));
        if (v->is_permanent)
            json_lit(o, full, ",\"permanent\":true");
        else
            json_lit(o, full, ",\"permanent\":false");
    } else {
        json_lit(o, full,
                 ",\"refused\":false,\"category\":null,\"permanent\":null");
    }
    PLAIN(o, full, ",\"stage\":",
          it->stage != PB_STAGE_NONE ? pb_stage_name(it->stage) : NULL);
    json_lit(o, full, ",\"reply\":");
    if (it->code != 0) {
        int n = snprintf(num, sizeof(num), "%d", it->code);

        json_add(o, full, num, (size_t)n);
    } else {
        json_lit(o, full, "null");
    }
    PLAIN(o, full, ",\"status\":", it->status);
    PLAIN(o, full, ",\"status_meaning\":",
          it->status[0] ? smtp_status_meaning(it->status) : NULL);
    ESCAPED(o, full, ",\"remote_mta\":", it->remote_mta);
    if (it->is_refusal) {
        PLAIN(o, full, ",\"provider\":", v->provider);
        PLAIN(o, full, ",\"rule\":", v->rule);
        PLAIN(o, full,
              ",\"confidence\":", reject_confidence_name(v->confidence));
    }
    PLAIN(o, full, ",\"evidence\":", it->text);
    if (it->is_refusal) {
        ESCAPED(o, full, ",\"explanation\":", v->explanation);
        ESCAPED(o, full, ",\"remedy\":", v->remedy);
        ESCAPED(o, full, ",\"source\":", v->source);
    }
    json_lit(o, full, "}");
}

int
report_explain_json_line(struct pb_buf *out, const char *name,
                         const struct explain_result *r)
{
    bool full = false;

    escaped(out, &full, "{\"input\":", sizeof("{\"input\":") - 1, name, true);
    PLAIN(out, &full, ",\"kind\":", explain_kind_name(r->kind));
    ESCAPED(out, &full, ",\"mta\":", r->mta);
    ESCAPED(out, &full, ",\"original_message_id\":", r->original_message_id);
    ESCAPED(out, &full, ",\"probe_token\":", r->probe_token);
    ESCAPED(out, &full, ",\"authentication_results\":", r->auth_results);
    json_lit(out, &full, ",\"results\":[");
    for (size_t i = 0; i < r->n; i++) {
        if (i > 0)
            json_lit(out, &full, ",");
        item_line(out, &full, &r->items[i]);
    }
    json_lit(out, &full, "]}\n");
    return full ? -1 : 0;
}

cJSON *
report_explain_json(const char *name, const struct explain_result *r)
{
    struct pb_buf line;
    cJSON *o = NULL;

    pb_buf_init(&line, PB_LIMIT_MSG_BYTES);
    if (report_explain_json_line(&line, name, r) == 0)
        o = cJSON_ParseWithLength(pb_buf_ptr(&line), line.len);
    pb_buf_release(&line);
    return o != NULL ? o : cJSON_CreateNull();
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
