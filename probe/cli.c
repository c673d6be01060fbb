/* SPDX-License-Identifier: MIT */
/* Command-line plumbing shared by every command: see cli.h. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb_log.h"
#include "pb_xalloc.h"

bool cli_no_color;

const char cli_dns_help[] =
    "DNS options:\n"
    "  --dns-server HOST[:PORT]  ask this server (IPv6: [ADDR]:PORT); "
    "default:\n"
    "                            the servers in /etc/resolv.conf\n"
    "  --dns-fixture FILE        answer from a JSON fixture instead of the\n"
    "                            network (format: probe(1), DNS FIXTURES)\n"
    "  --dns-record FILE         write every answer used to FILE in the\n"
    "                            fixture format, to replay the run offline\n"
    "  --dns-timeout MS          per-try timeout in milliseconds (default "
    "2000)\n"
    "  --dns-tries N             tries per query (default 2)\n";

int
cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "probe%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try 'probe%s%s --help')\n", cmd ? " " : "",
            cmd ? cmd : "");
    return CLI_UNKNOWN;
}

int
cli_unknown_option(const char *cmd, const char *arg)
{
    const char *eq;
    int n;

    if (arg == NULL)
        arg = "?";
    eq = strchr(arg, '=');
    n = eq != NULL ? (int)(eq - arg) : (int)strlen(arg);
    if (strncmp(arg, "--", 2) != 0)
        return cli_usage(cmd, "unknown option '-%c'",
                         optopt > 0 && optopt < 0x80 ? optopt : '?');
    if (optopt == 0)
        return cli_usage(cmd, "unknown option '%.*s'", n, arg);
    if (eq != NULL)
        return cli_usage(cmd, "option '%.*s' takes no value", n, arg);
    return cli_usage(cmd, "option '%s' needs a value", arg);
}

int
cli_error(const char *cmd, const struct pb_err *err)
{
    fprintf(stderr, "probe%s%s: %s%s%s\n", cmd ? " " : "", cmd ? cmd : "",
            err->msg, err->evidence[0] ? ": " : "", err->evidence);
    return CLI_UNKNOWN;
}

int
cli_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
cli_dns_option(const char *cmd, int opt, const char *arg, struct cli_dns *dns)
{
    long v;

    switch (opt) {
    case CLI_OPT_DNS_SERVER:
        dns->server = arg;
        return 1;
    case CLI_OPT_DNS_FIXTURE:
        dns->fixture = arg;
        return 1;
    case CLI_OPT_DNS_RECORD:
        dns->record = arg;
        return 1;
    case CLI_OPT_DNS_TIMEOUT:
        if (cli_parse_int(arg, 1, 600000, &v) == -1) {
            cli_usage(cmd,
                      "--dns-timeout takes milliseconds from 1 to "
                      "600000, not '%s'",
                      arg);
            return -1;
        }
        dns->timeout_ms = (int)v;
        return 1;
    case CLI_OPT_DNS_TRIES:
        if (cli_parse_int(arg, 1, 10, &v) == -1) {
            cli_usage(cmd,
                      "--dns-tries takes a number from 1 to 10, not "
                      "'%s'",
                      arg);
            return -1;
        }
        dns->tries = (int)v;
        return 1;
    case CLI_OPT_NO_COLOR:
        cli_no_color = true;
        return 1;
    case 'v':
        if (pb_log_level < PB_LOG_DEBUG)
            pb_log_level++;
        return 1;
    default:
        return 0;
    }
}

int
cli_other_option(const char *cmd, int opt, char **argv, struct cli_dns *dns)
{
    if (opt == '?') {
        cli_unknown_option(cmd, argv[optind - 1]);
        return -1;
    }
    switch (cli_dns_option(cmd, opt, optarg, dns)) {
    case -1:
        return -1;
    case 0:
        pb_panic("probe %s: option %d has no handler", cmd, opt);
    default:
        return 0;
    }
}

int
cli_dns_resolver(const char *cmd, const struct cli_dns *dns,
                 struct dns_resolver **out)
{
    struct dns_options opt;
    struct pb_err err;

    if (dns->server != NULL && dns->fixture != NULL) {
        cli_usage(cmd, "--dns-server and --dns-fixture exclude each other");
        return -1;
    }
    memset(&opt, 0, sizeof(opt));
    opt.server = dns->server;
    opt.fixture = dns->fixture;
    opt.timeout_ms = dns->timeout_ms;
    opt.tries = dns->tries;
    pb_err_clear(&err);
    if (dns_resolver_new(&opt, out, &err) == -1) {
        cli_error(cmd, &err);
        return -1;
    }
    return 0;
}

int
cli_dns_finish(const char *cmd, const struct cli_dns *dns,
               const struct dns_resolver *r)
{
    struct pb_err err;

    if (dns->record == NULL)
        return 0;
    pb_err_clear(&err);
    if (dns_resolver_record(r, dns->record, &err) == -1) {
        cli_error(cmd, &err);
        return -1;
    }
    return 0;
}

bool
cli_use_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");

    if (cli_no_color || (nc != NULL && nc[0] != '\0'))
        return false;
    return isatty(fileno(f)) == 1;
}
