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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "collect.h"
#include "explain.h"
#include "mailbox.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_signal.h"
#include "pb_log.h"
#include "pb_xalloc.h"
#include "profile.h"
#include "report.h"
#include "secret.h"
#include "seeds.h"
#include "send.h"
#include "verdict.h"

static const char usage[] =
    "Usage: probe [send] --relay NAME|FILE|URL --to SEEDS --from ADDR "
    "[options]\n"
    "\n"
    "The whole probe run: send one DKIM-signed probe message per seed "
    "through\n"
    "your relay, keep the SMTP conversation (credentials redacted), then "
    "read\n"
    "each copy back over IMAP (inbox or spam, and the receiver's own\n"
    "Authentication-Results), collect the bounces from the envelope "
    "sender's\n"
    "mailbox, and say per seed where the mail went and, for every "
    "rejection,\n"
    "which check caused it and what to fix.  A generic refusal (550 5.7.0)\n"
    "is correlated with the DNS audit of the From domain for the relay's\n"
    "sending IP, the DKIM signature sent and what other receivers said.\n"
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
    "source_address=,\n"
    "                      bounce_mailbox=)\n"
    "  --parallel N        connections at once, each reused for the next "
    "message\n"
    "                      (default: the profile's, else 1; at most 64)\n"
    "  --stage-timeout S   deadline in seconds for the greeting, each "
    "command and\n"
    "                      the message (default 60, 60, 120)\n"
    "  --connect-timeout S deadline for TCP connect and TLS handshake "
    "(default 15)\n"
    "  --dns-server H[:P]  resolve the relay and run the audit through this "
    "DNS\n"
    "                      server instead of the system's (also "
    "--dns-fixture FILE,\n"
    "                      --dns-record FILE)\n"
    "\n"
    "Message:\n"
    "  --to SEEDS          a seeds file (one address per line, with "
    "imap=... to read\n"
    "                      the copy back; docs/seeds.md), '-' for stdin, "
    "or\n"
    "                      addresses: a@x.example,b@y.example (send only)\n"
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
    "  --header 'N: V'     add a header field (up to 32 times)\n"
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
    "Reading back:\n"
    "  --wait S            wait at most S seconds after sending for copies "
    "and\n"
    "                      bounces (default 60; the run ends as soon as "
    "every\n"
    "                      seed is settled); 0: send only, read nothing\n"
    "  --bounce-mailbox L  where the relay's bounces land: one seeds-file "
    "line\n"
    "                      'ADDR imap=imaps://HOST password_file=F ...', or "
    "none\n"
    "                      (default: the profile's bounce_mailbox)\n"
    "  --cleanup           delete the copies and bounces found\n"
    "  --egress-ip ADDR    the IP the relay sends from, when no copy "
    "shows it\n"
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
    "profile or seed (password_env, password_file, or an OAuth2 refresh "
    "token\n"
    "for XOAUTH2), never from the command line, and never reach the "
    "output.\n"
    "\n"
    "Outcomes per seed: inbox, spam, rejected (by the relay), bounced (by "
    "the\n"
    "receiver), deferred, missing (readable, but neither copy nor bounce in\n"
    "time), error (could not find out), accepted (send only).\n"
    "\n"
    "Exit status: 0 every seed in the inbox, authenticated and aligned (or\n"
    "accepted, send only); 1 spam, deferred, or delivered without passing\n"
    "DMARC; 2 a seed rejected, bounced, missing or in error; 3 the probe "
    "could\n"
    "not run (bad option, profile, seeds file, key or secret).\n"
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
    "  scripts/lab up && probe --relay lab --to /tmp/probe-lab/seeds.txt "
    "\\\n"
    "      --from probe@good.test --dkim-key "
    "/tmp/probe-lab/keys/good.test/lab.private \\\n"
    "      --dkim-selector lab --dns-server 127.0.1.53\n";

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
    OPT_WAIT,
    OPT_BOUNCE_MAILBOX,
    OPT_CLEANUP,
    OPT_EGRESS_IP,
    OPT_HEADER,
};

#define SEND_MAX_KEYS 2
/* Seconds to wait for copies and bounces when --wait is not given. */
#define SEND_DEFAULT_WAIT 60

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
    long wait; /* -1: the default */
    const char *bounce_mailbox;
    bool cleanup;
    const char *egress_ip;
    const char *headers[MSG_BUILD_MAX_HEADERS];
    size_t nheaders;
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
        {"wait", 1, NULL, OPT_WAIT},
        {"bounce-mailbox", 1, NULL, OPT_BOUNCE_MAILBOX},
        {"cleanup", 0, NULL, OPT_CLEANUP},
        {"egress-ip", 1, NULL, OPT_EGRESS_IP},
        {"header", 1, NULL, OPT_HEADER},
        {"help", 0, NULL, 'h'},
        CLI_DNS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct cli_dns *dns = &a->dns;
    int opt;

    optind = 1;
    opterr = 0;
    a->wait = -1;
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
        case OPT_WAIT:
            if (cli_parse_int(optarg, 0, COLLECT_MAX_WAIT_S, &a->wait) < 0)
                return cli_usage("send", "--wait takes 0 to %d seconds",
                                 COLLECT_MAX_WAIT_S);
            break;
        case OPT_BOUNCE_MAILBOX:
            a->bounce_mailbox = optarg;
            break;
        case OPT_CLEANUP:
            a->cleanup = true;
            break;
        case OPT_HEADER:
            if (a->nheaders == MSG_BUILD_MAX_HEADERS)
                return cli_usage("send", "at most %d --header",
                                 MSG_BUILD_MAX_HEADERS);
            a->headers[a->nheaders++] = optarg;
            break;
        case OPT_EGRESS_IP: {
            struct ipaddr ip;

            if (ipaddr_parse(optarg, &ip) < 0)
                return cli_usage("send", "--egress-ip takes an IPv4 or IPv6 "
                                         "address");
            a->egress_ip = optarg;
            break;
        }
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
write_json(const char *path, const struct send_run *run,
           const struct collect *col, const struct run_verdicts *rv,
           unsigned wait_s, int code)
{
    cJSON *o = report_run_json(run, col, rv, wait_s, code);
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

/* The one line on stderr a non-zero exit owes: the first seed that did
   not reach the inbox cleanly, and how many others. */
static void
say_why(const struct send_run *run, const struct run_verdicts *rv)
{
    size_t bad = 0, first = rv->n;

    fflush(stdout);
    for (size_t i = 0; i < rv->n; i++) {
        const struct seed_verdict *v = &rv->v[i];

        if (v->outcome == VERDICT_ACCEPTED ||
            (v->outcome == VERDICT_INBOX && v->is_clean))
            continue;
        bad++;
        if (first == rv->n)
            first = i;
    }
    if (first == rv->n)
        return;
    {
        const struct seed_verdict *v = &rv->v[first];
        char *addr = report_escape(run->items[first].seed->address);

        fprintf(stderr, "probe send: %s %s", addr,
                verdict_outcome_name(v->outcome));
        if (v->has_category)
            fprintf(stderr, " (%s, %s confidence)",
                    reject_category_name(v->rv.category),
                    reject_confidence_name(v->rv.confidence));
        fprintf(stderr, ": %s", v->summary);
        if (bad > 1)
            fprintf(stderr, " (and %zu more of %zu seeds)", bad - 1, rv->n);
        fputc('\n', stderr);
        free(addr);
    }
}

/* Progress for a person watching: on stderr, only on a terminal. */
static void __attribute__((format(printf, 1, 2))) progress(const char *fmt, ...)
{
    va_list ap;

    if (!isatty(STDERR_FILENO))
        return;
    fputs("probe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" ...\n", stderr);
}

static bool
has_collected(const struct collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->seeds[i].bounce.is_found || c->seeds[i].copy.is_found)
            return true;
    return false;
}

/*
 * The mailbox of every readable seed (mb[i].host NULL: send only) and the
 * bounce mailbox (--bounce-mailbox, else the profile's; "none": none).
 */
static int
mailboxes_load(const struct send_args *a, const struct profile *p,
               const struct seeds *seeds, struct mailbox **mbp,
               struct mailbox *bounce, struct pb_err *err)
{
    const char *spec =
        a->bounce_mailbox ? a->bounce_mailbox : p->bounce_mailbox;
    struct mailbox *mb = pb_xcalloc(seeds->n ? seeds->n : 1, sizeof(*mb));
    struct imap_profiles *profiles;
    int rc = 0;

    *mbp = mb;
    if (a->wait == 0)
        return 0;
    profiles = imap_profiles_new();
    for (size_t i = 0; i < seeds->n && rc == 0; i++)
        if (mailbox_from_seed(&seeds->v[i], seeds->source, NULL, profiles,
                              &mb[i], err) < 0)
            rc = -1;
    if (rc == 0 && spec != NULL && strcmp(spec, "none") != 0) {
        struct seeds one = {0};
        const char *what =
            a->bounce_mailbox ? "--bounce-mailbox" : "bounce_mailbox";

        if (seeds_parse(spec, strlen(spec), what, &one, err) < 0)
            rc = -1;
        else if (one.n != 1 || one.v[0].imap_url == NULL)
            rc = pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                            "%s: give one address with imap= and "
                            "password_env= or password_file= "
                            "(a seeds-file line, docs/seeds.md)",
                            what);
        else if (mailbox_from_seed(&one.v[0], what, "bounce mailbox", profiles,
                                   bounce, err) < 0)
            rc = -1;
        seeds_release(&one);
    }
    imap_profiles_free(profiles);
    return rc;
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
    struct mailbox *mb = NULL, bounce_mb = {0};
    struct collect col = {0};
    struct run_verdicts rv = {0};
    struct reject_rules *rules = NULL;
    struct dns_resolver *resolver = NULL;
    bool has_verdicts = false;
    struct pb_buf body, html;
    struct pb_err err;
    int rc = CLI_UNKNOWN, prc;
    bool is_prepared = false;

    pb_buf_init(&body, PB_LIMIT_MSG_BYTES);
    pb_buf_init(&html, PB_LIMIT_MSG_BYTES);
    pb_err_clear(&err);
    /* a server that drops the connection must end a session, not us */
    signal(SIGPIPE, SIG_IGN);
    /* SIGTERM or SIGINT: finish what is under way, say QUIT and LOGOUT,
       report what was done */
    pb_signal_install();
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
    o.headers = a.headers;
    o.nheaders = a.nheaders;
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
    if (mailboxes_load(&a, profile, &seeds, &mb, &bounce_mb, &err) < 0) {
        rc = send_error(&err);
        goto out;
    }
    col.n = run.nitems;
    col.seeds = pb_xcalloc(run.nitems ? run.nitems : 1, sizeof(*col.seeds));
    for (size_t i = 0; i < run.nitems; i++) {
        col.seeds[i].address = run.items[i].seed->address;
        col.seeds[i].token = run.items[i].token;
        col.seeds[i].message_id = run.items[i].message_id;
        col.seeds[i].mb = a.wait == 0 || mb[i].host == NULL ? NULL : &mb[i];
    }
    col.bounce_mb = a.wait == 0 || bounce_mb.host == NULL ? NULL : &bounce_mb;
    col.wait_ms = (unsigned)(a.wait < 0 ? SEND_DEFAULT_WAIT : a.wait) * 1000;
    col.cleanup = a.cleanup;
    if (explain_rules_load(&rules, &err) < 0) {
        rc = send_error(&err);
        goto out;
    }
    col.rules = rules;
    if (collect_has_work(&col)) {
        progress("opening the seed mailboxes before sending");
        if (collect_start(&col, &err) < 0) {
            rc = send_error(&err);
            goto out;
        }
    }
    progress("sending %zu message(s) through %s:%u", run.nitems, profile->host,
             profile->port);
    log_info("sending %zu message(s) through %s:%u over at most %u "
             "connection(s)",
             run.nitems, profile->host, profile->port, run.parallel);
    if (send_execute(&run, &err) < 0) {
        rc = send_error(&err);
        goto out;
    }
    for (size_t i = 0; i < run.nitems; i++)
        col.seeds[i].is_accepted = run.items[i].job.outcome == SMTP_ACCEPTED;
    if (collect_has_work(&col)) {
        collect_sent(&col);
        progress("waiting up to %u s for the copies%s", col.wait_ms / 1000,
                 col.bounce_mb ? " and the bounces" : "");
        collect_finish(&col);
    }
    if ((a.dns.server != NULL || a.dns.fixture != NULL ||
         has_collected(&col)) &&
        cli_dns_resolver("send", &a.dns, &resolver) < 0) {
        rc = CLI_UNKNOWN;
        goto out;
    }
    verdicts_build(&rv, &run, &col, rules, resolver, a.egress_ip);
    has_verdicts = true;
    rc = verdicts_exit_code(&rv);
    if (a.json == NULL || strcmp(a.json, "-") != 0) {
        const struct report_style *st = report_style_get(cli_use_color(stdout));

        if (collect_has_work(&col) || rv.has_audit)
            report_run_text(stdout, &run, &col, &rv, st, a.with_transcripts);
        else
            report_send_text(stdout, &run, st, a.with_transcripts);
    }
    if (a.json != NULL &&
        write_json(a.json, &run, &col, &rv, col.wait_ms / 1000, rc) < 0)
        rc = CLI_UNKNOWN;
    if (pb_signal_stopping()) {
        fflush(stdout);
        fprintf(stderr,
                "probe send: stopped by signal %d before the run was over; "
                "the report holds what was done\n",
                pb_signal_which());
        rc = CLI_UNKNOWN;
    } else if (rc == CLI_CRITICAL || rc == CLI_WARNING) {
        say_why(&run, &rv);
    }

out:
    if (has_verdicts)
        verdicts_release(&rv);
    collect_release(&col);
    free(col.seeds);
    for (size_t i = 0; mb != NULL && i < seeds.n; i++)
        mailbox_release(&mb[i]);
    free(mb);
    mailbox_release(&bounce_mb);
    reject_rules_free(rules);
    dns_resolver_free(resolver);
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
