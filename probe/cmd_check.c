/* SPDX-License-Identifier: MIT */
/*
 * `probe check`: audit the authentication setup of one domain, or of many
 * (--batch) with several domains in flight at once, each worker thread
 * with its own DNS connection and one shared answer cache.
 */
#include "cmd.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "pb_clock.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_xalloc.h"
#include "report.h"

#define CHECK_DEFAULT_CONCURRENCY 16
#define CHECK_MAX_CONCURRENCY     256
#define CHECK_MAX_ZONES           32

static const char usage[] =
    "Usage: probe check DOMAIN [--ip ADDR]... [--selector SEL]... [--json]\n"
    "       probe check --batch FILE [--concurrency N] [--json]\n"
    "\n"
    "Audit a domain's mail authentication in DNS and say what to fix: SPF "
    "(record,\n"
    "include tree, lookup limits, the result for each sending IP), DKIM "
    "keys, DMARC\n"
    "(policy, organizational domain, report destinations), MX, reverse DNS "
    "of the\n"
    "sending IPs, and DNS block lists.\n"
    "\n"
    "  --ip ADDR          a sending IP: SPF result, PTR/FCrDNS and block "
    "lists\n"
    "                     (repeat for several; at most 16)\n"
    "  --selector SEL     a DKIM selector to check (repeat); without one, "
    "common\n"
    "                     selectors are tried\n"
    "  --checks LIST      only these checks, comma-separated: "
    "spf,dkim,dmarc,mx,ptr,dnsbl\n"
    "  --dnsbl ZONE       use this block list instead of the defaults "
    "(repeat);\n"
    "                     ip:ZONE or domain:ZONE says what it lists\n"
    "  --json             one JSON object (with --batch: one per line, "
    "JSON Lines)\n"
    "  --batch FILE       audit every domain in FILE (\"-\" for stdin): one "
    "per line,\n"
    "                     optionally followed by --ip ADDR and --selector "
    "SEL;\n"
    "                     blank lines and lines starting with # are "
    "skipped\n"
    "  --concurrency N    domains in flight at once with --batch (default "
    "16)\n"
    "  -v, --verbose      log what the probe does on stderr (twice: debug)\n"
    "  --no-color         no colour even on a terminal (also: NO_COLOR=1)\n"
    "  -h, --help         this text\n"
    "\n";

static const char usage_tail[] =
    "\n"
    "Each check has a status (ok, warn, fail, or error: could not check) "
    "and\n"
    "findings, each with a stable id, the evidence and the fix.  Finding "
    "ids:\n"
    "docs/findings-*.md; JSON: docs/json.md.\n"
    "\n"
    "Exit status: the worst status over all checks and domains: 0 ok, 1 "
    "warn,\n"
    "2 fail, 3 error (a check could not run, or bad input).\n"
    "\n"
    "Examples:\n"
    "  probe check example.com\n"
    "  probe check example.com --ip 203.0.113.5 --selector google --json\n"
    "  probe check --batch customers.txt --concurrency 64 --json > "
    "audit.jsonl\n";

enum {
    OPT_JSON = CLI_OPT_FIRST_COMMAND,
    OPT_IP,
    OPT_SELECTOR,
    OPT_CHECKS,
    OPT_DNSBL,
    OPT_BATCH,
    OPT_CONCURRENCY,
};

/* One domain to audit, and then its output. */
struct job {
    size_t line; /* in the batch file; 0 on the command line */
    char *input; /* as the user wrote it */
    char *domain;
    char *unicode;
    struct ipaddr *ips;
    size_t nips;
    char **selectors;
    size_t nselectors;
    char *error;  /* why it could not be audited, or NULL */
    char *output; /* rendered result */
    enum pb_status status;
    bool is_done;
};

struct run {
    struct job *jobs;
    size_t njobs;
    size_t next; /* the next job a worker takes */
    size_t ndone;
    unsigned checks;
    struct dnsbl_zone zones[CHECK_MAX_ZONES];
    size_t nzones;
    bool json;
    bool is_batch;
    const struct report_style *style;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct worker {
    struct run *run;
    struct dns_resolver *r;
    pthread_t th;
};

/* RFC 6376 §3.1: selector = sub-domain *( "." sub-domain ) */
static bool
selector_ok(const char *s)
{
    size_t label = 0, i, n = strlen(s);

    if (n == 0 || n > PB_LIMIT_DNS_NAME - 12)
        return false;
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > PB_LIMIT_DNS_LABEL || s[i - 1] == '-' ||
                s[i - label] == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)s[i]) || s[i] == '-') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

static void
job_release(struct job *j)
{
    size_t i;

    free(j->input);
    free(j->domain);
    free(j->unicode);
    free(j->ips);
    for (i = 0; i < j->nselectors; i++)
        free(j->selectors[i]);
    free(j->selectors);
    free(j->error);
    free(j->output);
}

/* Add an IP or a selector to a job; -1 with why. */
static int
job_add_ip(struct job *j, const char *s, char *why, size_t whysize)
{
    struct ipaddr ip;

    if (ipaddr_parse(s, &ip) == -1) {
        snprintf(why, whysize, "--ip '%.64s' is not an IPv4 or IPv6 address",
                 s);
        return -1;
    }
    if (j->nips == PB_LIMIT_CHECK_IPS) {
        snprintf(why, whysize, "more than %d --ip", PB_LIMIT_CHECK_IPS);
        return -1;
    }
    j->ips = pb_xreallocarray(j->ips, j->nips + 1, sizeof(*j->ips));
    j->ips[j->nips++] = ip;
    return 0;
}

static int
job_add_selector(struct job *j, const char *s, char *why, size_t whysize)
{
    if (!selector_ok(s)) {
        snprintf(why, whysize,
                 "--selector '%.64s' is not a DKIM selector "
                 "(RFC 6376 3.1: labels of letters, digits "
                 "and hyphens)",
                 s);
        return -1;
    }
    if (j->nselectors == PB_LIMIT_CHECK_SELECTORS) {
        snprintf(why, whysize, "more than %d --selector",
                 PB_LIMIT_CHECK_SELECTORS);
        return -1;
    }
    j->selectors = pb_xreallocarray(j->selectors, j->nselectors + 1,
                                    sizeof(*j->selectors));
    j->selectors[j->nselectors++] = pb_xstrdup(s);
    return 0;
}

static int
job_set_domain(struct job *j, const char *s, char *why, size_t whysize)
{
    j->input = pb_xstrdup(s);
    return check_domain_normalize(s, &j->domain, &j->unicode, why, whysize);
}

/*
 * One batch line: DOMAIN [--ip ADDR | --selector SEL]...  Fills j, or
 * sets j->error saying what is wrong with the line.
 */
static void
job_from_line(struct job *j, const char *file, size_t lineno, char *line)
{
    char why[320];
    char *tok, *save = NULL;
    bool first = true;

    j->line = lineno;
    for (tok = strtok_r(line, " \t", &save); tok != NULL;
         tok = strtok_r(NULL, " \t", &save)) {
        const char *val = NULL;
        bool is_ip;

        if (first) {
            first = false;
            if (job_set_domain(j, tok, why, sizeof(why)) == -1)
                goto bad;
            continue;
        }
        if (tok[0] == '#')
            break; /* a comment to the end of the line */
        is_ip = strncmp(tok, "--ip", 4) == 0;
        if (!is_ip && strncmp(tok, "--selector", 10) != 0) {
            snprintf(why, sizeof(why),
                     "unexpected '%.64s' (a line is DOMAIN "
                     "[--ip ADDR] [--selector SEL]...)",
                     tok);
            goto bad;
        }
        val = tok + (is_ip ? 4 : 10);
        if (*val == '=') {
            val++;
        } else if (*val == '\0') {
            val = strtok_r(NULL, " \t", &save);
        } else {
            snprintf(why, sizeof(why), "unexpected '%.64s'", tok);
            goto bad;
        }
        if (val == NULL || *val == '\0') {
            snprintf(why, sizeof(why), "%s needs a value",
                     is_ip ? "--ip" : "--selector");
            goto bad;
        }
        if ((is_ip ? job_add_ip(j, val, why, sizeof(why))
                   : job_add_selector(j, val, why, sizeof(why))) == -1)
            goto bad;
    }
    return;
bad:
    j->error = pb_xasprintf("%s:%zu: %s", file, lineno, why);
}

/* Give j the command line's IPs and selectors where its line has none. */
static void
job_inherit(struct job *j, const struct job *d)
{
    size_t i;

    if (j->nips == 0 && d->nips > 0) {
        j->ips = pb_xreallocarray(NULL, d->nips, sizeof(*j->ips));
        memcpy(j->ips, d->ips, d->nips * sizeof(*j->ips));
        j->nips = d->nips;
    }
    if (j->nselectors == 0 && d->nselectors > 0) {
        j->selectors =
            pb_xreallocarray(NULL, d->nselectors, sizeof(*j->selectors));
        for (i = 0; i < d->nselectors; i++)
            j->selectors[i] = pb_xstrdup(d->selectors[i]);
        j->nselectors = d->nselectors;
    }
}

/* Read the batch file into jobs; -1 (after saying why) when unreadable. */
static int
load_batch(const char *path, struct run *run, const struct job *defaults)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0, jcap = 0;
    ssize_t n;

    if (f == NULL) {
        cli_usage("check", "cannot read --batch %s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) != -1) {
        struct job *j;
        char *p = line;

        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (run->njobs == jcap) {
            jcap = jcap ? jcap * 2 : 64;
            run->jobs = pb_xreallocarray(run->jobs, jcap, sizeof(*run->jobs));
        }
        j = &run->jobs[run->njobs++];
        memset(j, 0, sizeof(*j));
        if ((size_t)n > PB_LIMIT_BATCH_LINE || memchr(line, '\0', (size_t)n)) {
            j->line = lineno;
            j->input = pb_xmemdup(p, strnlen(p, 64));
            j->error = pb_xasprintf("%s:%zu: line longer than %d bytes or "
                                    "holding a NUL byte",
                                    path, lineno, PB_LIMIT_BATCH_LINE);
            continue;
        }
        job_from_line(j, path, lineno, p);
        /* the command line's --ip and --selector serve lines without */
        if (j->error == NULL)
            job_inherit(j, defaults);
    }
    free(line);
    if (ferror(f)) {
        cli_usage("check", "error reading --batch %s: %s", path,
                  strerror(errno));
        if (f != stdin)
            fclose(f);
        return -1;
    }
    if (f != stdin)
        fclose(f);
    return 0;
}

/* Audit one job and render its output. */
static void
job_run(struct run *run, struct dns_resolver *r, struct job *j)
{
    struct check_request req;
    struct check_result res;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    if (j->error != NULL) {
        cJSON *o = report_check_error_json(j->input ? j->input : "", j->error);

        j->status = PB_STATUS_ERROR;
        if (run->json) {
            char *s = cJSON_PrintUnformatted(o);

            j->output = pb_xasprintf("%s\n", s);
            cJSON_free(s);
        } else {
            char *e = report_escape(j->error);
            char *d = report_escape(j->input ? j->input : "");

            j->output =
                pb_xasprintf("%-30s %s%-5s%s %s\n", d, run->style->yellow,
                             "error", run->style->off, e);
            free(d);
            free(e);
        }
        cJSON_Delete(o);
        return;
    }
    memset(&req, 0, sizeof(req));
    req.domain = j->domain;
    req.ips = j->ips;
    req.nips = j->nips;
    req.selectors = (const char *const *)j->selectors;
    req.nselectors = j->nselectors;
    req.zones = run->zones;
    req.nzones = run->nzones;
    req.checks = run->checks;
    check_run(r, &req, &res);
    res.domain_unicode = j->unicode != NULL ? pb_xstrdup(j->unicode) : NULL;
    j->status = res.status;
    if (run->json) {
        cJSON *o = report_check_json(&res);
        char *s = run->is_batch ? cJSON_PrintUnformatted(o) : cJSON_Print(o);

        j->output = pb_xasprintf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(o);
    } else {
        f = open_memstream(&buf, &len);
        if (f == NULL)
            pb_panic("open_memstream: %s", strerror(errno));
        if (run->is_batch)
            report_check_line(f, &res, run->style);
        else
            report_check_text(f, &res, run->style);
        fclose(f);
        j->output = buf;
    }
    check_result_release(&res);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;

    for (;;) {
        struct job *j;

        pthread_mutex_lock(&run->mu);
        if (run->next == run->njobs) {
            pthread_mutex_unlock(&run->mu);
            return NULL;
        }
        j = &run->jobs[run->next++];
        pthread_mutex_unlock(&run->mu);
        job_run(run, w->r, j);
        /* answers given past the run's cache limit are no longer needed */
        dns_resolver_forget(w->r);
        pthread_mutex_lock(&run->mu);
        j->is_done = true;
        run->ndone++;
        pthread_cond_broadcast(&run->cv);
        pthread_mutex_unlock(&run->mu);
    }
}

static double
now_s(void)
{
    return pb_clock_mono_s();
}

/*
 * Print results in input order as they complete, with a progress line on
 * stderr when it is a terminal.  Returns the worst status.
 */
static enum pb_status
print_in_order(struct run *run)
{
    enum pb_status worst = PB_STATUS_OK;
    bool progress = run->is_batch && isatty(STDERR_FILENO) == 1;
    double start = now_s(), last = 0;
    bool shown = false; /* a progress line is on the terminal */
    size_t i = 0;

    pthread_mutex_lock(&run->mu);
    while (i < run->njobs) {
        if (!run->jobs[i].is_done) {
            struct timespec ts;

            pb_clock_realtime_in(&ts, 200);
            pthread_cond_timedwait(&run->cv, &run->mu, &ts);
        }
        while (i < run->njobs && run->jobs[i].is_done) {
            struct job *j = &run->jobs[i++];

            pthread_mutex_unlock(&run->mu);
            if (shown) {
                fputs("\r\033[K", stderr);
                shown = false;
            }
            fputs(j->output, stdout);
            worst = pb_status_worst(worst, j->status);
            free(j->output);
            j->output = NULL;
            pthread_mutex_lock(&run->mu);
        }
        if (progress && now_s() - last > 0.2) {
            double t = now_s() - start;

            last = now_s();
            fflush(stdout);
            fprintf(stderr, "\r\033[Kchecked %zu of %zu domains", run->ndone,
                    run->njobs);
            if (t >= 1.0) /* a rate over less is noise */
                fprintf(stderr, " (%.0f/s)", (double)run->ndone / t);
            shown = true;
        }
    }
    pthread_mutex_unlock(&run->mu);
    if (shown)
        fputs("\r\033[K", stderr);
    fflush(stdout);
    return worst;
}

/* The one stderr line of a non-zero exit. */
static void
say_why(const struct run *run, enum pb_status worst)
{
    size_t i, count[4] = {0, 0, 0, 0};

    if (worst == PB_STATUS_OK)
        return;
    for (i = 0; i < run->njobs; i++)
        count[run->jobs[i].status]++;
    if (run->is_batch) {
        fprintf(stderr,
                "probe check: %zu domains: %zu ok, %zu warn, %zu "
                "fail, %zu could not be checked\n",
                run->njobs, count[PB_STATUS_OK], count[PB_STATUS_WARN],
                count[PB_STATUS_FAIL], count[PB_STATUS_ERROR]);
    } else {
        const struct job *j = &run->jobs[0];
        char *d = report_escape(j->domain ? j->domain : j->input);

        fprintf(stderr, "probe check: %s: %s%s\n", d, pb_status_name(worst),
                worst == PB_STATUS_ERROR
                    ? " (a check could not run: see its findings)"
                    : " (see the findings and their fixes)");
        free(d);
    }
}

int
cmd_check_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ip", 1, NULL, OPT_IP},
        {"selector", 1, NULL, OPT_SELECTOR},
        {"checks", 1, NULL, OPT_CHECKS},
        {"dnsbl", 1, NULL, OPT_DNSBL},
        {"json", 0, NULL, OPT_JSON},
        {"batch", 1, NULL, OPT_BATCH},
        {"concurrency", 1, NULL, OPT_CONCURRENCY},
        {"help", 0, NULL, 'h'},
        CLI_DNS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct cli_dns dns;
    struct run run;
    struct job defaults;
    struct dns_resolver *root = NULL;
    struct worker *workers = NULL;
    const char *batch = NULL;
    long concurrency = CHECK_DEFAULT_CONCURRENCY;
    size_t nworkers = 0, i;
    enum pb_status worst;
    char why[320];
    int opt, rc = CLI_UNKNOWN;
    struct pb_err err;

    memset(&dns, 0, sizeof(dns));
    memset(&run, 0, sizeof(run));
    memset(&defaults, 0, sizeof(defaults));
    run.checks = CHECK_ALL;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            fputs(cli_dns_help, stdout);
            fputs(usage_tail, stdout);
            rc = CLI_OK;
            goto out;
        case OPT_IP:
            if (job_add_ip(&defaults, optarg, why, sizeof(why)) == -1) {
                cli_usage("check", "%s", why);
                goto out;
            }
            break;
        case OPT_SELECTOR:
            if (job_add_selector(&defaults, optarg, why, sizeof(why)) == -1) {
                cli_usage("check", "%s", why);
                goto out;
            }
            break;
        case OPT_CHECKS: {
            const char *bad;
            size_t badlen;

            if (check_kinds_parse(optarg, &run.checks, &bad, &badlen) == -1) {
                cli_usage("check",
                          "--checks: unknown check '%.*s' (known: "
                          "spf, dkim, dmarc, mx, ptr, dnsbl)",
                          (int)badlen, bad);
                goto out;
            }
            break;
        }
        case OPT_DNSBL:
            if (run.nzones == CHECK_MAX_ZONES) {
                cli_usage("check", "more than %d --dnsbl", CHECK_MAX_ZONES);
                goto out;
            }
            pb_err_clear(&err);
            if (dnsbl_zone_parse(optarg, &run.zones[run.nzones], &err) == -1) {
                cli_usage("check", "--dnsbl: %s", err.msg);
                goto out;
            }
            run.nzones++;
            break;
        case OPT_JSON:
            run.json = true;
            break;
        case OPT_BATCH:
            batch = optarg;
            break;
        case OPT_CONCURRENCY:
            if (cli_parse_int(optarg, 1, CHECK_MAX_CONCURRENCY, &concurrency) ==
                -1) {
                cli_usage("check",
                          "--concurrency takes a number from 1 to "
                          "%d, not '%s'",
                          CHECK_MAX_CONCURRENCY, optarg);
                goto out;
            }
            break;
        default:
            if (cli_other_option("check", opt, argv, &dns) == -1)
                goto out;
            break;
        }
    }
    if (run.nzones == 0) {
        size_t n;
        const struct dnsbl_zone *z = dnsbl_default_zones(&n);

        for (i = 0; i < n && i < CHECK_MAX_ZONES; i++)
            run.zones[run.nzones++] = z[i];
    }
    run.style = report_style_get(cli_use_color(stdout));
    if (batch != NULL) {
        if (optind < argc) {
            cli_usage("check",
                      "give either DOMAIN or --batch FILE, not "
                      "both ('%s')",
                      argv[optind]);
            goto out;
        }
        run.is_batch = true;
        if (load_batch(batch, &run, &defaults) == -1)
            goto out;
    } else {
        if (optind >= argc) {
            cli_usage("check", "give a DOMAIN to check, or --batch FILE");
            goto out;
        }
        if (optind + 1 < argc) {
            cli_usage("check",
                      "unexpected argument '%s' (one DOMAIN; use "
                      "--batch for many)",
                      argv[optind + 1]);
            goto out;
        }
        if (job_set_domain(&defaults, argv[optind], why, sizeof(why)) == -1) {
            cli_usage("check", "%s", why);
            goto out;
        }
        run.jobs = pb_xcalloc(1, sizeof(*run.jobs));
        run.jobs[0] = defaults;
        run.njobs = 1;
        memset(&defaults, 0, sizeof(defaults));
    }
    if (cli_dns_resolver("check", &dns, &root) == -1)
        goto out;
    if (pthread_mutex_init(&run.mu, NULL) != 0 ||
        pthread_cond_init(&run.cv, NULL) != 0)
        pb_panic("check: cannot make a mutex");
    nworkers =
        run.njobs < (size_t)concurrency ? run.njobs : (size_t)concurrency;
    if (nworkers == 0)
        nworkers = 1;
    workers = pb_xcalloc(nworkers, sizeof(*workers));
    for (i = 0; i < nworkers; i++) {
        workers[i].run = &run;
        pb_err_clear(&err);
        if (i == 0) {
            workers[i].r = NULL; /* the root serves the first worker */
        } else if (dns_resolver_fork(root, &workers[i].r, &err) == -1) {
            cli_error("check", &err);
            nworkers = i;
            goto stop;
        }
    }
    workers[0].r = root;
    for (i = 0; i < nworkers; i++)
        if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) != 0)
            pb_panic("check: cannot start a thread");
    worst = print_in_order(&run);
    for (i = 0; i < nworkers; i++)
        pthread_join(workers[i].th, NULL);
    if (cli_dns_finish("check", &dns, root) == -1)
        worst = pb_status_worst(worst, PB_STATUS_ERROR);
    say_why(&run, worst);
    rc = pb_status_exit(worst);
stop:
    for (i = 1; i < nworkers; i++)
        dns_resolver_free(workers[i].r);
    free(workers);
    pthread_cond_destroy(&run.cv);
    pthread_mutex_destroy(&run.mu);
out:
    for (i = 0; i < run.njobs; i++)
        job_release(&run.jobs[i]);
    free(run.jobs);
    job_release(&defaults);
    dns_resolver_free(root);
    return rc;
}
