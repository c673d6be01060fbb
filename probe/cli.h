/* SPDX-License-Identifier: MIT */
/*
 * Command-line plumbing shared by every command: exit codes, usage errors,
 * the DNS options (--dns-server, --dns-fixture, --dns-record, --dns-timeout,
 * --dns-tries) and the colour decision.
 */
#ifndef PB_PROBE_CLI_H
#define PB_PROBE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "analyze.h"

/* Monitoring-plugins exit codes (PRODUCT.md). */
enum cli_exit {
    CLI_OK = 0,
    CLI_WARNING = 1,
    CLI_CRITICAL = 2,
    CLI_UNKNOWN = 3,
};

struct cli_dns {
    const char *server;
    const char *fixture;
    const char *record;
    int timeout_ms;
    int tries;
};

/* getopt_long option values for the DNS options, above any short option. */
enum {
    CLI_OPT_DNS_SERVER = 0x100,
    CLI_OPT_DNS_FIXTURE,
    CLI_OPT_DNS_RECORD,
    CLI_OPT_DNS_TIMEOUT,
    CLI_OPT_DNS_TRIES,
    CLI_OPT_NO_COLOR,
    CLI_OPT_FIRST_COMMAND, /* commands number their own options from here */
};

#define CLI_DNS_LONGOPTS                               \
    {"dns-server", 1, NULL, CLI_OPT_DNS_SERVER},       \
        {"dns-fixture", 1, NULL, CLI_OPT_DNS_FIXTURE}, \
        {"dns-record", 1, NULL, CLI_OPT_DNS_RECORD},   \
        {"dns-timeout", 1, NULL, CLI_OPT_DNS_TIMEOUT}, \
        {"dns-tries", 1, NULL, CLI_OPT_DNS_TRIES},     \
        {"no-color", 0, NULL, CLI_OPT_NO_COLOR},       \
    {                                                  \
        "verbose", 0, NULL, 'v'                        \
    }

/* The help text for the DNS options, for a command's --help. */
extern const char cli_dns_help[];

/*
 * Handle one DNS option (or -v / --no-color) returned by getopt_long.
 * Returns 1 when it was one of ours, 0 when not, -1 (after printing a
 * usage error) for a bad value.
 */
int cli_dns_option(const char *cmd, int opt, const char *arg,
                   struct cli_dns *dns);

/*
 * What a command's getopt_long loop does not handle itself: the DNS
 * options, -v, --no-color, and what getopt rejected ('?').  Returns 0, or
 * -1 after printing a usage error.  An option in a command's table that
 * nobody handles is our bug (pb_panic).
 */
int cli_other_option(const char *cmd, int opt, char **argv,
                     struct cli_dns *dns);

/* Build the resolver the DNS options ask for; -1 after printing why. */
int cli_dns_resolver(const char *cmd, const struct cli_dns *dns,
                     struct dns_resolver **out);
/* Write --dns-record if asked; -1 after printing why. */
int cli_dns_finish(const char *cmd, const struct cli_dns *dns,
                   const struct dns_resolver *r);

/*
 * Print "probe CMD: MESSAGE" and a hint to try --help on stderr; returns
 * CLI_UNKNOWN for `return cli_usage(...)`.
 */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Usage error for what getopt_long rejected: arg is argv[optind - 1]
 * ("--bogus", "--ip" without its value, "-x").  Returns CLI_UNKNOWN.
 */
int cli_unknown_option(const char *cmd, const char *arg);
/* Print "probe CMD: <err.msg>[: evidence]" on stderr; returns CLI_UNKNOWN. */
int cli_error(const char *cmd, const struct pb_err *err);

/* Colour on a terminal unless --no-color or NO_COLOR (no-color.org). */
bool cli_use_color(FILE *f);
extern bool cli_no_color;

/* Parse a whole decimal number in [min, max]; -1 if it is not one. */
int cli_parse_int(const char *s, long min, long max, long *out);

#endif
