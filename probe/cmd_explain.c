/* SPDX-License-Identifier: MIT */
/*
 * `probe explain [FILE...|-] [--json]`: name the check behind an SMTP
 * reply, a probe report or transcript, or a bounce message.
 */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "explain.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_xalloc.h"
#include "report.h"

static const char usage[] =
    "Usage: probe explain [FILE...|-] [--json]\n"
    "\n"
    "Name the check that rejected mail, from what you have: an SMTP reply\n"
    "(\"550-5.7.26 ...\", one or more lines), a `probe send --json` report "
    "or a\n"
    "transcript, or a bounce message (an RFC 3464 DSN or the bounce of "
    "Exchange,\n"
    "Gmail, Yahoo, Postfix, Exim, Sendmail, qmail, Amazon SES, ...).  The "
    "input\n"
    "is recognised by itself; with no FILE or '-', standard input.\n"
    "\n"
    "For each refused recipient: the category (spf, dkim, dmarc, "
    "auth-multiple,\n"
    "relay-denied, smtp-auth, ptr, blocklist, reputation, content, "
    "rate-limit,\n"
    "tls-required, recipient-unknown, mailbox-full, mailbox-disabled,\n"
    "message-size, dns-sender, policy-other), permanent or transient, the "
    "stage,\n"
    "the reply and enhanced status code with its meaning, the provider, the "
    "rule\n"
    "that matched (profiles/rules/, docs/rules.md), a confidence (high: the "
    "reply\n"
    "names the check; medium: a provider's wording points to it; low: "
    "nothing\n"
    "does, said plainly), the evidence and the fix.  A bounce also gives "
    "the\n"
    "original Message-ID, the probe token and the returned "
    "Authentication-Results.\n"
    "\n"
    "  --json          one JSON object per input (JSON Lines for several; "
    "docs/json.md)\n"
    "  -v, --verbose   log what the probe does on stderr\n"
    "  --no-color      no colour (also NO_COLOR)\n"
    "  -h, --help      this text\n"
    "\n"
    "Rules come from $PROBE_RULES_DIR, else the rules shipped in "
    "profiles/rules/.\n"
    "\n"
    "Exit status: 0 nothing refused (not a bounce, an auto-reply, a 2xx); "
    "1 only\n"
    "transient refusals; 2 a permanent refusal; 3 an input that could not "
    "be read\n"
    "or is none of the above.\n"
    "\n"
    "Examples:\n"
    "  probe explain bounce.eml\n"
    "  echo '550 5.7.26 Unauthenticated email from example.com is not "
    "accepted' | probe explain\n"
    "  probe send --relay gmail --to seeds.txt --json - | probe explain\n"
    "  probe explain --json maildir/new/* > verdicts.jsonl\n";

enum {
    OPT_JSON = CLI_OPT_FIRST_COMMAND,
};

/* The bytes of one input, in an allocation kept from one to the next. */
struct input_buf {
    char *p;
    size_t len, cap;
};

/* Read fd whole into b: 0, -1 (errno set) or -2 past PB_LIMIT_MSG_BYTES.
   Straight into the buffer, which grows as needed. */
static int
input_read_fd(struct input_buf *b, int fd)
{
    const size_t most = (size_t)PB_LIMIT_MSG_BYTES + 2;

    b->len = 0;
    for (;;) {
        ssize_t got;

        if (b->cap - b->len < 2) {
            size_t cap = b->cap == 0 ? 256u * 1024 : 2 * b->cap;

            b->p = pb_xrealloc(b->p, cap < most ? cap : most);
            b->cap = cap < most ? cap : most;
        }
        got = read(fd, b->p + b->len, b->cap - 1 - b->len);
        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1)
            return -1;
        if (got == 0)
            break;
        b->len += (size_t)got;
        if (b->len > PB_LIMIT_MSG_BYTES)
            return -2;
    }
    b->p[b->len] = '\0';
    return 0;
}

static int
read_input(const char *path, struct input_buf *b, struct pb_err *err)
{
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    int rc, saved;

    if (fd < 0)
        return pb_err_set(err, PB_STAGE_IO, PB_E_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    rc = input_read_fd(b, fd);
    saved = errno;
    if (fd != 0)
        close(fd);
    if (rc == -1)
        return pb_err_set(err, PB_STAGE_IO, PB_E_IO, "%s: cannot read: %s",
                          path, strerror(saved));
    if (rc == -2)
        return pb_err_set(err, PB_STAGE_IO, PB_E_LIMIT,
                          "%s: over the limit of %u bytes", path,
                          PB_LIMIT_MSG_BYTES);
    return 0;
}

/* The exit code one result calls for. */
static int
result_code(const struct explain_result *r)
{
    int code = CLI_OK;

    for (size_t i = 0; i < r->n; i++) {
        if (!r->items[i].is_refusal)
            continue;
        if (r->items[i].verdict.is_permanent)
            return CLI_CRITICAL;
        code = CLI_WARNING;
    }
    return code;
}

/* For the one stderr line a non-zero exit owes: the first refusal. */
struct explain_tally {
    size_t refusals;
    char first[256];
};

static void
tally(struct explain_tally *t, const char *name, const struct explain_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct explain_item *it = &r->items[i];

        if (!it->is_refusal)
            continue;
        if (t->refusals++ == 0) {
            char *n = report_escape(name);
            char *a = it->recipient ? report_escape(it->recipient) : NULL;

            snprintf(t->first, sizeof(t->first), "%.100s%s%.100s: %s (%s)", n,
                     a ? ": " : "", a ? a : "",
                     reject_category_name(it->verdict.category),
                     it->verdict.is_permanent ? "permanent" : "transient");
            free(n);
            free(a);
        }
    }
}

/* bufs: the input read, and the JSON line written, kept from one input to
   the next. */
struct explain_bufs {
    struct input_buf in;
    struct pb_buf line;
};

static int
explain_one(const struct reject_rules *rules, const char *path, bool as_json,
            const struct report_style *st, bool is_first,
            struct explain_tally *t, struct explain_bufs *bufs)
{
    struct input_buf *in = &bufs->in;
    struct pb_buf *line = &bufs->line;
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    struct explain_result r;
    struct pb_err err;
    int code;

    pb_err_clear(&err);
    if (read_input(path, in, &err) < 0 ||
        explain_input(rules, name, in->p, in->len, &r, &err) < 0) {
        if (as_json) {
            cJSON *o = report_explain_error_json(name, err.msg);
            char *text = cJSON_PrintUnformatted(o);

            if (text != NULL)
                puts(text);
            free(text);
            cJSON_Delete(o);
        }
        fprintf(stderr, "probe explain: %s%s%s\n", err.msg,
                err.evidence[0] ? ": " : "", err.evidence);
        return CLI_UNKNOWN;
    }
    if (as_json) {
        pb_buf_reset(line);
        if (report_explain_json_line(line, name, &r) == 0) {
            fwrite(pb_buf_ptr(line), 1, line->len, stdout);
        } else {
            cJSON *o = report_explain_json(name, &r);
            char *text = cJSON_PrintUnformatted(o);

            if (text != NULL)
                puts(text);
            free(text);
            cJSON_Delete(o);
        }
    } else {
        if (!is_first)
            fputc('\n', stdout);
        report_explain_text(stdout, name, &r, st);
    }
    code = result_code(&r);
    tally(t, name, &r);
    explain_result_release(&r);
    return code;
}

int
cmd_explain_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", 0, NULL, OPT_JSON},
        {"help", 0, NULL, 'h'},
        CLI_DNS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static char outbuf[64u * 1024];
    struct cli_dns dns = {0};
    struct reject_rules *rules = NULL;
    struct pb_err err;
    struct explain_tally t = {0};
    struct explain_bufs bufs = {{NULL, 0, 0}, {NULL, 0, 0, 0}};
    bool as_json = false;
    int opt, worst = CLI_OK, nbad = 0, first_bad = CLI_OK;
    const struct report_style *st;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return CLI_OK;
        case OPT_JSON:
            as_json = true;
            break;
        default:
            if (cli_other_option("explain", opt, argv, &dns) < 0)
                return CLI_UNKNOWN;
            break;
        }
    }
    if (dns.server != NULL || dns.fixture != NULL || dns.record != NULL)
        return cli_usage("explain", "explain reads what you give it and "
                                    "makes no DNS queries");
    /* many inputs make many lines: fewer write()s (a terminal keeps its
       line buffering; glibc ignores the size without a buffer) */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    pb_err_clear(&err);
    if (explain_rules_load(&rules, &err) < 0)
        return cli_error("explain", &err);
    st = report_style_get(cli_use_color(stdout));

    pb_buf_init(&bufs.line, PB_LIMIT_MSG_BYTES);
    if (optind == argc) {
        worst = explain_one(rules, "-", as_json, st, true, &t, &bufs);
    } else {
        for (int i = optind; i < argc; i++) {
            int code = explain_one(rules, argv[i], as_json, st, i == optind, &t,
                                   &bufs);

            if (code == CLI_UNKNOWN) {
                nbad++;
                first_bad = code;
            } else if (code > worst) {
                worst = code;
            }
        }
        /* an unreadable input is UNKNOWN unless a verdict is worse news */
        if (nbad > 0 && worst == CLI_OK)
            worst = first_bad;
    }
    free(bufs.in.p);
    pb_buf_release(&bufs.line);
    reject_rules_free(rules);
    fflush(stdout);
    if ((worst == CLI_WARNING || worst == CLI_CRITICAL) && t.refusals > 0)
        fprintf(stderr, "probe explain: %s%s\n", t.first,
                t.refusals > 1 ? " and more refusals" : "");
    return worst;
}
