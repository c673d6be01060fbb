/* SPDX-License-Identifier: MIT */
/*
 * `probe send`: one DKIM-signed probe message per seed through the relay
 * the user really sends with, every SMTP exchange kept (redacted at
 * capture), a per-seed table and the JSON report.
 */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_log.h"
#include "pb_xalloc.h"
#include "profile.h"
#include "report.h"
#include "secret.h"
#include "seeds.h"
#include "send.h"

static const char usage[] =
    "Usage: probe send --relay NAME|FILE|URL --to SEEDS --from ADDR "
    "[options]\n"
    "       probe --relay NAME|FILE|URL --to SEEDS ...   (send is the "
    "default)\n"
    "\n"
    "Send one probe message per seed through your relay and report, per "
    "seed,\n"
    "whether it was accepted or at which SMTP stage it was refused, with "
    "the\n"
    "server's reply and the whole conversation (credentials redacted).\n"
    "Each message carries its own token (X-Probe-Id and the body) so its "
    "copy\n"
    "can be found later.\n"
    "\n"
    "Relay:\n"
    "  --relay SPEC        a profile name (gmail, gmail-submission, m365,\n"
    "                      m365-connector, generic, lab, lab-allowlist, or "
    "your\n"
    "                      own in ~/.config/probe/profiles), a profile "
    "FILE.json,\n"
    "                      or smtp://HOST[:PORT] (STARTTLS required, port 25\n"
    "                      unless given: :587 for submission) or\n"
    "                      smtps://HOST[:PORT]; see docs/profiles.md\n"
    "  --set KEY=VALUE     set a profile variable (tenant=contoso-com) or "
    "field\n"
    "                      (user=, password_env=, password_file=, "
    "ca_file=,\n"
    "                      address=, port=, tls=, auth=, helo=, "
    "source_address=)\n"
    "  --parallel N        connections at once, each reused for the next "
    "message\n"
    "                      (default: the profile's, else 1; at most 64)\n"
    "  --stage-timeout S   deadline in seconds for the greeting, each "
    "command and\n"
    "                      the message (default 60, 60, 120)\n"
    "  --connect-timeout S deadline for TCP connect and TLS handshake "
    "(default 15)\n"
    "  --dns-server H[:P]  look the relay host up through this DNS server "
    "instead\n"
    "                      of the system's (also --dns-fixture FILE, "
    "--dns-record)\n"
    "\n"
    "Message:\n"
    "  --to SEEDS          a seeds file (one address per line, "
    "docs/seeds.md),\n"
    "                      '-' for stdin, or addresses: "
    "a@x.example,b@y.example\n"
    "  --from ADDR         the From address (default: the profile's user "
    "when it\n"
    "                      is an address)\n"
    "  --from-name NAME    display name of From\n"
    "  --envelope-from A   MAIL FROM when it differs from --from ('' for "
    "<>)\n"
    "  --subject TEXT      default: \"Your update from DOMAIN\"\n"
    "  --body FILE         the text part instead of the built-in "
    "campaign-like one\n"
    "  --html FILE         an HTML part (with --body: multipart/"
    "alternative)\n"
    "  --unsubscribe URI   List-Unsubscribe: an https URL or "
    "mailto:ADDR\n"
    "                      (twice for both)\n"
    "  --one-click         List-Unsubscribe-Post (RFC 8058; needs the "
    "URL)\n"
    "  --dkim-key PEM      sign with this key (RSA or Ed25519; owner-only "
    "file);\n"
    "                      twice with two --dkim-selector for RSA + "
    "Ed25519\n"
    "  --dkim-selector SEL the selector of each --dkim-key, in order\n"
    "  --dkim-domain D     d= (default: the From domain)\n"
    "  --dkim-canon H/B    relaxed/relaxed (default) or simple/simple, ...\n"
    "\n"
    "Output:\n"
    "  --json FILE|-       the JSON report (docs/json.md) to FILE or stdout\n"
    "  --transcript        print every seed's SMTP transcript after the "
    "table\n"
    "  -v, --verbose       log what the probe does on stderr\n"
    "  --no-color          no colour (also NO_COLOR)\n"
    "  -h, --help          this text\n"
    "\n"
    "Secrets come only from the environment or an owner-only file named "
    "by the\n"
    "profile (password_env, password_file, or an OAuth2 refresh token for\n"
    "XOAUTH2), never from the command line, and never reach the output: "
    "AUTH\n"
    "lines are redacted when they are captured.\n"
    "\n"
    "Exit status: 0 every seed accepted; 1 a seed deferred (4xx); 2 a seed\n"
    "rejected (5xx) or failed (timeout, TLS, connection); 3 nothing was "
    "sent\n"
    "(bad option, profile, seeds file, key or secret).\n"
    "\n"
    "Examples:\n"
    "  probe --relay gmail --to seeds.txt --from news@example.com \\\n"
    "      --dkim-key dkim.pem --dkim-selector s2024\n"
    "  PROBE_SMTP_PASSWORD=... probe send --relay generic --set "
    "host=mail.example.com \\\n"
    "      --set user=me@example.com --to me@gmail.com --from "
    "me@example.com\n"
    "  probe send --relay m365-connector --set tenant=contoso-com --to "
    "seeds.txt \\\n"
    "      --from alerts@contoso.com --json report.json\n"
    "  scripts/lab up && probe send --relay lab --to "
    "/tmp/probe-lab/seeds.txt \\\n"
    "      --from probe@good.test --dkim-key "
    "/tmp/probe-lab/keys/good.test/lab.private \\\n"
    "      --dkim-selector lab --transcript\n";

enum {
    OPT_RELAY = CLI_OPT_FIRST_COMMAND,
    OPT_TO,
    OPT_FROM,
    OPT_FROM_NAME,
    OPT_ENVELOPE_FROM,
    OPT_SUBJECT,
    OPT_BODY,
    OPT_HTML,
    OPT_UNSUBSCRIBE,
    OPT_ONE_CLICK,
    OPT_DKIM_KEY,
    OPT_DKIM_SELECTOR,
    OPT_DKIM_DOMAIN,
    OPT_DKIM_CANON,
    OPT_SET,
    OPT_PARALLEL,
    OPT_STAGE_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_JSON,
    OPT_TRANSCRIPT,
};

#define SEND_MAX_KEYS 2

struct send_args {
    const char *relay;
    const char *to;
    const char *from;
    const char *from_name;
    const char *envelope_from;
    bool has_envelope_from;
    const char *subject;
    const char *body;
    const char *html;
    const char *unsubscribe[2];
    size_t nunsubscribe;
    bool one_click;
    const char *keys[SEND_MAX_KEYS];
    size_t nkeys;
    const char *selectors[SEND_MAX_KEYS];
    size_t nselectors;
    const char *dkim_domain;
    const char *dkim_canon;
    const char *sets[PROFILE_LIMIT_SETS];
    size_t nsets;
    long parallel;
    long stage_timeout;
    long connect_timeout;
    const char *json;
    bool with_transcripts;
    struct cli_dns dns;
};

static int
send_error(const struct pb_err *err)
{
    return cli_error("send", err);
}

/* Read a body file (text or HTML) within PB_LIMIT_MSG_BYTES. */
static int
read_file(const char *path, struct pb_buf *b, struct pb_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc, saved;

    if (fd < 0)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    rc = pb_buf_read_fd(b, fd);
    saved = errno;
    close(fd);
    if (rc == -1)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "%s: cannot read: %s",
                          path, strerror(saved));
    if (rc == -2)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s: over the limit of %u bytes", path,
                          PB_LIMIT_MSG_BYTES);
    if (memchr(pb_buf_ptr(b), '\0', b->len) != NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s: holds a NUL byte; give a text file", path);
    return 0;
}

static int
parse_args(int argc, char **argv, struct send_args *a)
{
    static const struct option longopts[] = {
        {"relay", 1, NULL, OPT_RELAY},
        {"to", 1, NULL, OPT_TO},
        {"from", 1, NULL, OPT_FROM},
        {"from-name", 1, NULL, OPT_FROM_NAME},
        {"envelope-from", 1, NULL, OPT_ENVELOPE_FROM},
        {"subject", 1, NULL, OPT_SUBJECT},
        {"body", 1, NULL, OPT_BODY},
        {"html", 1, NULL, OPT_HTML},
        {"unsubscribe", 1, NULL, OPT_UNSUBSCRIBE},
        {"one-click", 0, NULL, OPT_ONE_CLICK},
        {"dkim-key", 1, NULL, OPT_DKIM_KEY},
        {"dkim-selector", 1, NULL, OPT_DKIM_SELECTOR},
        {"dkim-domain", 1, NULL, OPT_DKIM_DOMAIN},
        {"dkim-canon", 1, NULL, OPT_DKIM_CANON},
        {"set", 1, NULL, OPT_SET},
        {"parallel", 1, NULL, OPT_PARALLEL},
        {"stage-timeout", 1, NULL, OPT_STAGE_TIMEOUT},
        {"connect-timeout", 1, NULL, OPT_CONNECT_TIMEOUT},
        {"json", 1, NULL, OPT_JSON},
        {"transcript", 0, NULL, OPT_TRANSCRIPT},
        {"help", 0, NULL, 'h'},
        CLI_DNS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct cli_dns *dns = &a->dns;
    int opt;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return 1;
        case OPT_RELAY:
            a->relay = optarg;
            break;
        case OPT_TO:
            a->to = optarg;
            break;
        case OPT_FROM:
            a->from = optarg;
            break;
        case OPT_FROM_NAME:
            a->from_name = optarg;
            break;
        case OPT_ENVELOPE_FROM:
            a->envelope_from = optarg;
            a->has_envelope_from = true;
            break;
        case OPT_SUBJECT:
            a->subject = optarg;
            break;
        case OPT_BODY:
            a->body = optarg;
            break;
        case OPT_HTML:
            a->html = optarg;
            break;
        case OPT_UNSUBSCRIBE:
            if (a->nunsubscribe == 2)
                return cli_usage("send", "--unsubscribe is given at most "
                                         "twice (a URL and a mailto)");
            a->unsubscribe[a->nunsubscribe++] = optarg;
            break;
        case OPT_ONE_CLICK:
            a->one_click = true;
            break;
        case OPT_DKIM_KEY:
            if (a->nkeys == SEND_MAX_KEYS)
                return cli_usage("send", "at most %d --dkim-key",
                                 SEND_MAX_KEYS);
            a->keys[a->nkeys++] = optarg;
            break;
        case OPT_DKIM_SELECTOR:
            if (a->nselectors == SEND_MAX_KEYS)
                return cli_usage("send", "at most %d --dkim-selector",
                                 SEND_MAX_KEYS);
            a->selectors[a->nselectors++] = optarg;
            break;
        case OPT_DKIM_DOMAIN:
            a->dkim_domain = optarg;
            break;
        case OPT_DKIM_CANON:
            a->dkim_canon = optarg;
            break;
        case OPT_SET:
            if (a->nsets == PROFILE_LIMIT_SETS)
                return cli_usage("send", "at most %d --set",
                                 PROFILE_LIMIT_SETS);
            a->sets[a->nsets++] = optarg;
            break;
        case OPT_PARALLEL:
            if (cli_parse_int(optarg, 1, SMTP_MAX_PARALLEL, &a->parallel) < 0)
                return cli_usage("send", "--parallel takes 1 to %d",
                                 SMTP_MAX_PARALLEL);
            break;
        case OPT_STAGE_TIMEOUT:
            if (cli_parse_int(optarg, 1, 3600, &a->stage_timeout) < 0)
                return cli_usage("send", "--stage-timeout takes 1 to 3600 "
                                         "seconds");
            break;
        case OPT_CONNECT_TIMEOUT:
            if (cli_parse_int(optarg, 1, 3600, &a->connect_timeout) < 0)
                return cli_usage("send", "--connect-timeout takes 1 to 3600 "
                                         "seconds");
            break;
        case OPT_JSON:
            a->json = optarg;
            break;
        case OPT_TRANSCRIPT:
            a->with_transcripts = true;
            break;
        default:
            if (cli_other_option("send", opt, argv, dns) < 0)
                return -1;
            break;
        }
    }
    if (optind < argc)
        return cli_usage("send", "unexpected argument '%s'", argv[optind]);
    if (a->relay == NULL)
        return cli_usage("send", "--relay is required (a profile name such "
                                 "as gmail or lab, a file, or smtp://HOST)");
    if (a->to == NULL)
        return cli_usage("send", "--to is required (a seeds file or "
                                 "addresses)");
    if (a->nkeys != a->nselectors)
        return cli_usage("send",
                         "give one --dkim-selector for each "
                         "--dkim-key (%zu keys, %zu selectors)",
                         a->nkeys, a->nselectors);
    if (a->nkeys == 0 && (a->dkim_domain != NULL || a->dkim_canon != NULL))
        return cli_usage("send", "--dkim-domain and --dkim-canon need "
                                 "--dkim-key");
    if (a->one_click && a->nunsubscribe == 0)
        return cli_usage("send", "--one-click needs --unsubscribe URL");
    return 0;
}

/*
 * With --dns-server or --dns-fixture, the relay host is looked up there
 * (A, then AAAA) instead of through the system's resolver, and the
 * address pinned for libcurl.  A profile's own "address" wins.
 */
static int
resolve_relay(const struct send_args *a, struct profile *p)
{
    static const uint16_t types[] = {1 /* A */, 28 /* AAAA */};
    struct dns_resolver *r = NULL;
    struct ipaddr ip;
    int rc = -1;

    if (a->dns.server == NULL && a->dns.fixture == NULL)
        return 0;
    if (p->address != NULL || ipaddr_parse(p->host, &ip) == 0)
        return 0;
    if (cli_dns_resolver("send", &a->dns, &r) < 0)
        return -1;
    for (size_t t = 0; t < 2 && rc < 0; t++) {
        const struct dns_answer *ans = dns_query(r, p->host, types[t]);

        for (size_t i = 0; ans != NULL && i < ans->nrr; i++) {
            const struct dns_rr *rr = &ans->rr[i];
            char text[64];

            if (rr->type != types[t])
                continue;
            ip.family = rr->type == 1 ? 4 : 6;
            memcpy(ip.a, rr->addr, rr->type == 1 ? 4 : 16);
            ipaddr_format(&ip, text, sizeof(text));
            p->address = pb_xstrdup(text);
            log_info("relay %s is %s (DNS)", p->host, text);
            rc = 0;
            break;
        }
        if (rc < 0 && t == 1 && ans != NULL) {
            char *host = report_escape(p->host);

            fprintf(stderr,
                    "probe send: cannot resolve the relay host %s through "
                    "the DNS server: %s\n",
                    host, dns_status_name(ans));
            free(host);
        }
    }
    if (rc == 0 && cli_dns_finish("send", &a->dns, r) < 0)
        rc = -1;
    dns_resolver_free(r);
    return rc;
}

static bool
is_existing_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static int
load_seeds(const char *to, struct seeds *seeds, struct pb_err *err)
{
    if (strcmp(to, "-") != 0 && strchr(to, '@') != NULL &&
        !is_existing_file(to))
        return seeds_from_list(to, seeds, err);
    return seeds_load(to, seeds, err);
}

/* The password or the OAuth2 access token the profile asks for. */
static int
load_secret(const struct profile *p, struct secret **out, struct pb_err *err)
{
    char warn[512] = "";

    *out = NULL;
    if (secret_for_profile(p, NULL, out, warn, sizeof(warn), err) < 0)
        return -1;
    if (warn[0] != '\0')
        fprintf(stderr, "probe send: warning: %s\n", warn);
    return 0;
}

static int
load_keys(const struct send_args *a, struct send_options *o,
          struct dkim_sign_key **keys, struct pb_err *err)
{
    enum dkim_canon hc = DKIM_CANON_RELAXED, bc = DKIM_CANON_RELAXED;
    const char *domain = a->dkim_domain;

    if (a->nkeys == 0)
        return 0;
    if (a->dkim_canon != NULL &&
        dkim_sign_canon_parse(a->dkim_canon, &hc, &bc) < 0)
        return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                          "--dkim-canon takes relaxed/relaxed, simple/simple, "
                          "relaxed/simple or simple/relaxed");
    if (domain == NULL) {
        domain = strrchr(o->from, '@');
        domain = domain ? domain + 1 : o->from;
    }
    for (size_t i = 0; i < a->nkeys; i++) {
        struct dkim_sign_params *d = &o->dkim[i];

        if (dkim_sign_key_load(a->keys[i], &keys[i], err) < 0) {
            char what[160];

            snprintf(what, sizeof(what), "--dkim-key %.140s", a->keys[i]);
            return pb_err_prefix(err, what);
        }
        d->key = keys[i];
        d->domain = domain;
        d->selector = a->selectors[i];
        d->header_canon = hc;
        d->body_canon = bc;
        if (dkim_sign_params_check(d, err) < 0)
            return -1;
        o->ndkim++;
    }
    return 0;
}

static int
write_json(const char *path, const struct send_run *run, int code)
{
    cJSON *o = report_send_json(run, code);
    char *text = cJSON_PrintUnformatted(o);
    FILE *f;
    int rc = 0;

    cJSON_Delete(o);
    if (text == NULL) {
        fprintf(stderr, "probe send: out of memory writing the report\n");
        return -1;
    }
    if (strcmp(path, "-") == 0) {
        f = stdout;
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        f = fd < 0 ? NULL : fdopen(fd, "w");
        if (f == NULL) {
            fprintf(stderr, "probe send: cannot write %s: %s\n", path,
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            free(text);
            return -1;
        }
    }
    if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
        rc = -1;
    if (f != stdout ? fclose(f) != 0 : fflush(f) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "probe send: cannot write the report to %s\n", path);
    free(text);
    return rc;
}

/* The one line on stderr a non-zero exit owes: the first seed that was
   not accepted, and how many others. */
static void
say_why(const struct send_run *run)
{
    size_t bad = run->nitems - run->counts[SMTP_ACCEPTED];

    fflush(stdout);
    for (size_t i = 0; i < run->nitems; i++) {
        const struct smtp_job *j = &run->items[i].job;
        char *addr;

        if (j->outcome == SMTP_ACCEPTED)
            continue;
        addr = report_escape(run->items[i].seed->address);
        fprintf(stderr, "probe send: %s %s at %s: ", addr,
                smtp_outcome_name(j->outcome), pb_stage_name(j->err.stage));
        if (j->err.reply != 0)
            fprintf(stderr, "%d %s", j->err.reply, j->err.evidence);
        else
            fprintf(stderr, "%s", j->err.msg);
        if (bad > 1)
            fprintf(stderr, " (and %zu more of %zu seeds not accepted)",
                    bad - 1, run->nitems);
        fputc('\n', stderr);
        free(addr);
        return;
    }
}

int
cmd_send_main(int argc, char **argv)
{
    struct send_args a = {0};
    struct send_options o = {0};
    struct dkim_sign_key *keys[SEND_MAX_KEYS] = {NULL};
    struct seeds seeds = {0};
    struct profile *profile = NULL;
    struct secret *secret = NULL;
    struct send_run run = {0};
    struct pb_buf body, html;
    struct pb_err err;
    int rc = CLI_UNKNOWN, prc;
    bool is_prepared = false;

    pb_buf_init(&body, PB_LIMIT_MSG_BYTES);
    pb_buf_init(&html, PB_LIMIT_MSG_BYTES);
    pb_err_clear(&err);
    /* a server that drops the connection must end a session, not us */
    signal(SIGPIPE, SIG_IGN);
    prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        rc = prc > 0 ? CLI_OK : CLI_UNKNOWN;
        goto out;
    }
    if (smtp_global_init(&err) < 0 ||
        profile_load(a.relay, a.sets, a.nsets, &profile, &err) < 0 ||
        load_seeds(a.to, &seeds, &err) < 0) {
        rc = send_error(&err);
        goto out;
    }
    if (resolve_relay(&a, profile) < 0)
        goto out;
    for (size_t i = 0; i < profile->nwarnings; i++)
        fprintf(stderr, "probe send: warning: %s\n", profile->warnings[i]);

    o.from = a.from;
    if (o.from == NULL) {
        if (profile->user == NULL || strchr(profile->user, '@') == NULL) {
            rc = cli_usage("send", "--from is required (the profile has no "
                                   "user that is an address)");
            goto out;
        }
        o.from = profile->user;
    }
    o.from_name = a.from_name;
    o.envelope_from = a.has_envelope_from ? a.envelope_from : NULL;
    o.subject = a.subject;
    o.one_click = a.one_click;
    for (size_t i = 0; i < a.nunsubscribe; i++) {
        const char *u = a.unsubscribe[i];

        if (strncmp(u, "mailto:", 7) == 0)
            o.unsubscribe_mailto = u + 7;
        else
            o.unsubscribe_url = u;
    }
    if ((a.body != NULL && read_file(a.body, &body, &err) < 0) ||
        (a.html != NULL && read_file(a.html, &html, &err) < 0) ||
        load_keys(&a, &o, keys, &err) < 0) {
        rc = send_error(&err);
        goto out;
    }
    if (a.body != NULL) {
        o.text = pb_buf_ptr(&body);
        o.text_len = body.len;
    }
    if (a.html != NULL) {
        o.html = pb_buf_ptr(&html);
        o.html_len = html.len;
    }
    o.parallel = (unsigned)a.parallel;
    if (a.stage_timeout > 0) {
        profile->timeouts.greeting_ms = a.stage_timeout * 1000;
        profile->timeouts.command_ms = a.stage_timeout * 1000;
        profile->timeouts.data_ms = a.stage_timeout * 1000;
    }
    if (a.connect_timeout > 0)
        profile->timeouts.connect_ms = a.connect_timeout * 1000;

    if (load_secret(profile, &secret, &err) < 0) {
        rc = send_error(&err);
        goto out;
    }
    if (send_prepare(&run, profile, secret ? secret_data(secret, NULL) : NULL,
                     &seeds, &o, &err) < 0) {
        is_prepared = true;
        rc = send_error(&err);
        goto out;
    }
    is_prepared = true;
    log_info("sending %zu message(s) through %s:%u over at most %u "
             "connection(s)",
             run.nitems, profile->host, profile->port, run.parallel);
    if (send_execute(&run, &err) < 0) {
        rc = send_error(&err);
        goto out;
    }
    rc = send_exit_code(&run);
    if (a.json == NULL || strcmp(a.json, "-") != 0)
        report_send_text(stdout, &run, report_style_get(cli_use_color(stdout)),
                         a.with_transcripts);
    if (a.json != NULL && write_json(a.json, &run, rc) < 0)
        rc = CLI_UNKNOWN;
    if (rc == CLI_CRITICAL || rc == CLI_WARNING)
        say_why(&run);

out:
    if (is_prepared)
        send_run_release(&run);
    secret_free(secret);
    for (size_t i = 0; i < SEND_MAX_KEYS; i++)
        dkim_sign_key_free(keys[i]);
    seeds_release(&seeds);
    profile_free(profile);
    pb_buf_release(&body);
    pb_buf_release(&html);
    return rc;
}
