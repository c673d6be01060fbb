/* SPDX-License-Identifier: MIT */
/*
 * Recognise an input and judge its refusals.  A reply goes through the
 * SMTP reply parser (smtp_reply.h), a report or transcript through cJSON,
 * anything else through the bounce parser (analyze/dsn.h); each refusal
 * then through reject_classify().
 */
#include "explain.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "pb_buf.h"
#include "pb_xalloc.h"
#include "profile.h"
#include "report.h"
#include "smtp.h"

const char *
explain_kind_name(enum explain_kind k)
{
    switch (k) {
    case EXPLAIN_REPLY:
        return "reply";
    case EXPLAIN_REPORT:
        return "report";
    case EXPLAIN_TRANSCRIPT:
        return "transcript";
    case EXPLAIN_BOUNCE:
        return "bounce";
    case EXPLAIN_FEEDBACK:
        return "feedback";
    case EXPLAIN_AUTOREPLY:
        return "auto-reply";
    case EXPLAIN_NOT_BOUNCE:
        return "not-bounce";
    }
    return "unknown";
}

int
explain_rules_load(struct reject_rules **out, struct pb_err *err)
{
    const char *env = getenv("PROBE_RULES_DIR");
    char dir[4096];

    if (env != NULL && env[0] != '\0')
        return reject_rules_load(env, out, err);
    snprintf(dir, sizeof(dir), "%s/rules", profile_builtin_dir());
    return reject_rules_load(dir, out, err);
}

static enum pb_stage
stage_parse(const char *name)
{
    for (int s = PB_STAGE_NONE; s <= PB_STAGE_IO; s++) {
        if (strcmp(pb_stage_name((enum pb_stage)s), name) == 0)
            return (enum pb_stage)s;
    }
    return PB_STAGE_NONE;
}

/* The stage a client command opens (for transcripts). */
static enum pb_stage
stage_of_command(const char *p)
{
    static const struct {
        const char *word;
        enum pb_stage stage;
    } words[] = {
        {"EHLO", PB_STAGE_EHLO},       {"HELO", PB_STAGE_EHLO},
        {"STARTTLS", PB_STAGE_TLS},    {"AUTH", PB_STAGE_AUTH},
        {"MAIL", PB_STAGE_MAIL},       {"RCPT", PB_STAGE_RCPT},
        {"DATA", PB_STAGE_DATA},       {"QUIT", PB_STAGE_QUIT},
        {"[redacted]", PB_STAGE_AUTH},
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strncasecmp(p, words[i].word, strlen(words[i].word)) == 0)
            return words[i].stage;
    }
    return PB_STAGE_NONE;
}

/*
 * (p, len) escaped as report_escape_n() does (printable ASCII stays, but
 * '\\'; "\\r", "\\n", "\\t"; any other byte "\\xHH"), in one pass that
 * copies the runs that need nothing: evidence texts are long and mostly
 * plain.
 */
static char *
escape_text(const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)p;
    char *out = pb_xmalloc(len * 4 + 1), *o = out;
    size_t i = 0;

    while (i < len) {
        size_t run = i;
        unsigned char c;

        /* eight bytes at a time while none is below 0x20, from 0x7f up or
           a '\\' (x has a zero byte when (x - ones) & ~x & highs) */
        for (; len - run >= 8; run += 8) {
            const uint64_t ones = 0x0101010101010101u;
            const uint64_t highs = 0x8080808080808080u;
            uint64_t w, b, d;

            memcpy(&w, u + run, sizeof(w));
            b = w ^ (ones * '\\');
            d = w ^ (ones * 0x7f);
            if ((((w - ones * 0x20) & ~w) | ((b - ones) & ~b) |
                 ((d - ones) & ~d) | w) &
                highs)
                break;
        }
        while (run < len && u[run] >= 0x20 && u[run] < 0x7f && u[run] != '\\')
            run++;
        memcpy(o, p + i, run - i);
        o += run - i;
        if (run == len)
            break;
        c = u[run];
        *o++ = '\\';
        switch (c) {
        case '\\':
            *o++ = '\\';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
            break;
        }
        i = run + 1;
    }
    *o = '\0';
    return out;
}

static struct explain_item *
item_add(struct explain_result *r)
{
    struct explain_item *it;

    r->items = pb_xreallocarray(r->items, r->n + 1, sizeof(*r->items));
    it = &r->items[r->n++];
    memset(it, 0, sizeof(*it));
    return it;
}

static void
item_judge(const struct reject_rules *rules, struct explain_item *it,
           const char *raw, size_t raw_len)
{
    struct reject_input in = {0};

    in.stage = it->stage;
    in.code = it->code;
    in.status = it->status[0] ? it->status : NULL;
    in.text = raw;
    in.text_len = raw_len;
    in.host = it->remote_mta;
    reject_classify(rules, &in, &it->verdict);
    it->is_refusal = true;
}

/* ------------------------------------------------------------------ */
/* An SMTP reply                                                       */

static bool
looks_like_reply(const char *p, size_t len)
{
    return len >= 3 && p[0] >= '2' && p[0] <= '5' && p[1] >= '0' &&
           p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
           (len == 3 || p[3] == ' ' || p[3] == '-' || p[3] == '\r' ||
            p[3] == '\n');
}

/* Judge one reply (or note it as not a refusal). */
static void
reply_item(const struct reject_rules *rules, struct explain_result *r,
           const struct smtp_reply *rep, enum pb_stage stage, const char *host)
{
    struct explain_item *it;
    struct pb_buf text;
    char *raw;
    size_t raw_len;

    if (rep->code < 400)
        return;
    pb_buf_init(&text, 64u * 1024);
    for (size_t i = 0; i < rep->nlines; i++) {
        if ((i > 0 && pb_buf_add(&text, " ", 1) < 0) ||
            pb_buf_add(&text, rep->lines[i], rep->line_lens[i]) < 0)
            break;
    }
    raw = pb_buf_take(&text, &raw_len);
    it = item_add(r);
    it->stage = stage;
    it->code = rep->code;
    memcpy(it->status, rep->status, sizeof(it->status));
    it->remote_mta = host ? pb_xstrdup(host) : NULL;
    it->text = escape_text(raw ? raw : "", raw ? raw_len : 0);
    item_judge(rules, it, raw ? raw : "", raw ? raw_len : 0);
    free(raw);
}

static int
explain_reply(const struct reject_rules *rules, const char *name, const char *p,
              size_t len, struct explain_result *r, struct pb_err *err)
{
    struct smtp_reply_parser parser;
    struct smtp_reply rep;
    int rc = 0;

    r->kind = EXPLAIN_REPLY;
    smtp_reply_parser_init(&parser, PB_STAGE_NONE);
    if (smtp_reply_feed(&parser, p, len, err) < 0 ||
        (len > 0 && p[len - 1] != '\n' &&
         smtp_reply_feed(&parser, "\r\n", 2, err) < 0)) {
        pb_err_prefix(err, name);
        rc = -1;
    }
    while (smtp_reply_next(&parser, &rep)) {
        reply_item(rules, r, &rep, PB_STAGE_NONE, NULL);
        smtp_reply_release(&rep);
    }
    smtp_reply_parser_release(&parser);
    return rc;
}

/* ------------------------------------------------------------------ */
/* A probe report or transcript                                        */

static const char *
json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
explain_report(const struct reject_rules *rules, const cJSON *doc,
               struct explain_result *r)
{
    const cJSON *relay = cJSON_GetObjectItemCaseSensitive(doc, "relay");
    const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(doc, "seeds");
    const char *host = json_str(relay, "host");
    const cJSON *seed;

    r->kind = EXPLAIN_REPORT;
    cJSON_ArrayForEach(seed, seeds)
    {
        const cJSON *smtp = cJSON_GetObjectItemCaseSensitive(seed, "smtp");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(smtp, "error");
        const cJSON *reply = cJSON_GetObjectItemCaseSensitive(e, "reply");
        const char *addr = json_str(seed, "address");
        const char *status = json_str(e, "status");
        const char *stage = json_str(e, "stage");
        const char *text = json_str(e, "evidence");
        struct explain_item *it;

        if (!cJSON_IsObject(e))
            continue;
        if (!cJSON_IsNumber(reply)) {
            /* no reply: a failure of the connection, not a refusal */
            text = json_str(e, "message");
        }
        it = item_add(r);
        it->recipient = addr ? pb_xstrdup(addr) : NULL;
        it->remote_mta = host ? pb_xstrdup(host) : NULL;
        it->stage = stage ? stage_parse(stage) : PB_STAGE_NONE;
        it->code = cJSON_IsNumber(reply) ? reply->valueint : 0;
        if (status != NULL && strlen(status) < sizeof(it->status))
            snprintf(it->status, sizeof(it->status), "%s", status);
        it->text = pb_xstrdup(text ? text : "");
        item_judge(rules, it, it->text, strlen(it->text));
    }
}

static void
explain_transcript(const struct reject_rules *rules, const cJSON *doc,
                   struct explain_result *r)
{
    struct smtp_reply_parser parser;
    struct smtp_reply rep;
    enum pb_stage stage = PB_STAGE_GREETING;
    const cJSON *e;

    r->kind = EXPLAIN_TRANSCRIPT;
    smtp_reply_parser_init(&parser, PB_STAGE_NONE);
    cJSON_ArrayForEach(e, doc)
    {
        const char *dir = json_str(e, "dir");
        const char *text = json_str(e, "text");
        struct pb_err err;

        if (dir == NULL || text == NULL)
            continue;
        if (strcmp(dir, "C") == 0) {
            enum pb_stage s = stage_of_command(text);

            if (s != PB_STAGE_NONE)
                stage = s;
            continue;
        }
        if (strcmp(dir, "S") != 0)
            continue;
        if (smtp_reply_feed(&parser, text, strlen(text), &err) < 0 ||
            smtp_reply_feed(&parser, "\r\n", 2, &err) < 0)
            break;
        while (smtp_reply_next(&parser, &rep)) {
            if (stage != PB_STAGE_QUIT)
                reply_item(rules, r, &rep, stage, NULL);
            smtp_reply_release(&rep);
        }
    }
    smtp_reply_parser_release(&parser);
}

/* ------------------------------------------------------------------ */
/* A message                                                           */

static bool
is_failed(const struct authres_result *r)
{
    return r != NULL &&
           (r->status == AUTHRES_FAIL || r->status == AUTHRES_SOFTFAIL ||
            r->status == AUTHRES_PERMERROR);
}

static const char *
remedy_of(enum reject_category c)
{
    switch (c) {
    case REJECT_SPF:
        return "Authorize the sending IP in the envelope sender domain's SPF "
               "record (or include the ESP's), staying under 10 DNS lookups; "
               "`probe check DOMAIN --ip IP` shows the result.";
    case REJECT_DKIM:
        return "Sign with a DKIM key whose public key is published at "
               "SELECTOR._domainkey.DOMAIN, and check that nothing rewrites "
               "the message after signing; `probe check DOMAIN --selector "
               "SEL` shows the key.";
    case REJECT_DMARC:
        return "Align SPF or DKIM with the From domain: sign with DKIM d= the "
               "From domain (or its organizational domain), or send with a "
               "MAIL FROM in that domain whose SPF passes.";
    default:
        return "Authenticate the mail: make SPF pass for the sending IP and "
               "sign with DKIM for the From domain, aligned with it for "
               "DMARC; `probe check DOMAIN --ip IP` shows which is missing.";
    }
}

/*
 * A refusal whose words name no check (policy-other, auth-multiple), in a
 * bounce that returned the message with its Authentication-Results: when
 * those show which check failed, say so, with medium confidence (the
 * field's authserv-id cannot be verified here: it is correlation, not the
 * receiver's word).
 */
static void
refine_with_authres(struct explain_item *it, const char *ar_text)
{
    struct reject_verdict *v = &it->verdict;
    const char *line = ar_text;
    struct authres ar;
    struct pb_err err;

    if (v->category != REJECT_POLICY_OTHER &&
        v->category != REJECT_AUTH_MULTIPLE)
        return;
    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const struct authres_result *spf, *dkim, *dmarc;
        enum reject_category c;
        char said[96];

        memset(&ar, 0, sizeof(ar));
        if (authres_parse(line, len, &ar, &err) < 0) {
            authres_release(&ar);
            memset(&ar, 0, sizeof(ar));
        }
        if (ar.nresults == 0) {
            /* as a whole field; authres_parse_field() starts afresh */
            authres_release(&ar);
            if (authres_parse_field(line, len, &ar, &err) < 0) {
                authres_release(&ar);
                line = end ? end + 1 : NULL;
                continue;
            }
        }
        spf = authres_find(&ar, "spf");
        dkim = authres_find(&ar, "dkim");
        dmarc = authres_find(&ar, "dmarc");
        if (is_failed(dmarc))
            c = REJECT_DMARC;
        else if (is_failed(spf) && is_failed(dkim))
            c = REJECT_AUTH_MULTIPLE;
        else if (is_failed(spf))
            c = REJECT_SPF;
        else if (is_failed(dkim))
            c = REJECT_DKIM;
        else
            c = REJECT_CATEGORY_COUNT;
        if (c != REJECT_CATEGORY_COUNT) {
            snprintf(said, sizeof(said), "spf=%s dkim=%s dmarc=%s",
                     spf ? authres_status_name(spf->status) : "-",
                     dkim ? authres_status_name(dkim->status) : "-",
                     dmarc ? authres_status_name(dmarc->status) : "-");
            v->category = c;
            v->confidence = REJECT_CONF_MEDIUM;
            v->source[0] = '\0';
            snprintf(v->remedy, sizeof(v->remedy), "%s", remedy_of(c));
            snprintf(v->rule, sizeof(v->rule),
                     "returned-authentication-results");
            snprintf(v->explanation, sizeof(v->explanation),
                     "The reply names no check, but the Authentication-Results "
                     "returned with the message (authserv-id %.60s) show "
                     "%.80s.",
                     ar.authserv_id ? ar.authserv_id : "none", said);
            authres_release(&ar);
            return;
        }
        authres_release(&ar);
        line = end ? end + 1 : NULL;
    }
}

static int
explain_message(const struct reject_rules *rules, const char *name,
                const char *p, size_t len, struct explain_result *r,
                struct pb_err *err)
{
    struct dsn_report d;

    if (dsn_parse(p, len, &d, err) < 0) {
        dsn_report_release(&d);
        return pb_err_prefix(err, name);
    }
    switch (d.kind) {
    case DSN_NOT_BOUNCE:
        r->kind = EXPLAIN_NOT_BOUNCE;
        break;
    case DSN_FEEDBACK:
        r->kind = EXPLAIN_FEEDBACK;
        break;
    case DSN_AUTOREPLY:
        r->kind = EXPLAIN_AUTOREPLY;
        break;
    default:
        r->kind = EXPLAIN_BOUNCE;
        break;
    }
    r->mta = d.mta ? pb_xstrdup(d.mta) : NULL;
    r->original_message_id =
        d.original_message_id ? pb_xstrdup(d.original_message_id) : NULL;
    r->probe_token = d.probe_token ? pb_xstrdup(d.probe_token) : NULL;
    r->auth_results = d.auth_results ? pb_xstrdup(d.auth_results) : NULL;
    for (size_t i = 0; i < d.n; i++) {
        const struct dsn_recipient *dr = &d.v[i];
        struct explain_item *it = item_add(r);
        const char *raw = dr->diagnostic ? dr->diagnostic : "";
        size_t raw_len = dr->diagnostic ? dr->diagnostic_len : 0;

        it->recipient = dr->address ? pb_xstrdup(dr->address) : NULL;
        it->remote_mta = dr->remote_mta ? pb_xstrdup(dr->remote_mta) : NULL;
        it->stage = dr->stage;
        it->code = dr->reply_code;
        memcpy(it->status, dr->status, sizeof(it->status));
        it->text = escape_text(raw, raw_len);
        if (dr->action != NULL) {
            static const char *const actions[] = {
                "failed", "delayed", "delivered", "relayed", "expanded",
            };

            for (size_t k = 0; k < sizeof(actions) / sizeof(actions[0]); k++)
                if (strcasecmp(dr->action, actions[k]) == 0)
                    it->action = actions[k];
        }
        if (it->action != NULL && (strcmp(it->action, "delivered") == 0 ||
                                   strcmp(it->action, "relayed") == 0 ||
                                   strcmp(it->action, "expanded") == 0))
            continue;
        if (r->kind != EXPLAIN_BOUNCE)
            continue;
        item_judge(rules, it, raw, raw_len);
        if (r->auth_results != NULL)
            refine_with_authres(it, r->auth_results);
    }
    dsn_report_release(&d);
    return 0;
}

int
explain_input(const struct reject_rules *rules, const char *name,
              const void *input, size_t len, struct explain_result *out,
              struct pb_err *err)
{
    const char *p = input;
    size_t skip = 0;

    memset(out, 0, sizeof(*out));
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        skip = 3;
    while (skip < len && (p[skip] == ' ' || p[skip] == '\t' ||
                          p[skip] == '\r' || p[skip] == '\n'))
        skip++;
    if (skip == len)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX, "%s: empty input",
                          name);
    if (p[skip] == '{' || p[skip] == '[') {
        cJSON *doc = cJSON_ParseWithLength(p + skip, len - skip);

        if (doc == NULL)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s: starts like JSON but is not valid JSON",
                              name);
        if (cJSON_IsObject(doc) &&
            cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "seeds"))) {
            explain_report(rules, doc, out);
        } else if (cJSON_IsArray(doc)) {
            explain_transcript(rules, doc, out);
        } else {
            cJSON_Delete(doc);
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s: JSON that is neither a probe send report "
                              "nor a transcript",
                              name);
        }
        cJSON_Delete(doc);
        return 0;
    }
    if (looks_like_reply(p + skip, len - skip))
        return explain_reply(rules, name, p + skip, len - skip, out, err);
    return explain_message(rules, name, p, len, out, err);
}

void
explain_result_release(struct explain_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].recipient);
        free(r->items[i].remote_mta);
        free(r->items[i].text);
    }
    free(r->items);
    free(r->mta);
    free(r->original_message_id);
    free(r->probe_token);
    free(r->auth_results);
    memset(r, 0, sizeof(*r));
}
