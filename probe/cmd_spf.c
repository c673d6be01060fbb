/* SPDX-License-Identifier: MIT */
/*
 * `probe spf`: evaluate SPF (RFC 7208 check_host) for a client IP and an
 * envelope sender or HELO name, and print the result with its evidence.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pb_limits.h"
#include "report.h"

static const char usage[] =
    "Usage: probe spf --ip ADDR --sender ADDR [--helo NAME] [--json] "
    "[DNS options]\n"
    "       probe spf --ip ADDR --helo NAME [--json] [DNS options]\n"
    "\n"
    "Evaluate SPF (RFC 7208 check_host) the way a receiving mail server "
    "does,\n"
    "for the client address ADDR sending as the envelope sender, and show "
    "why:\n"
    "every record, term and DNS answer that led to the result.\n"
    "\n"
    "  --ip ADDR        the connecting client's IPv4 or IPv6 address\n"
    "  --sender ADDR    the MAIL FROM address. \"\" (the null sender of "
    "bounces)\n"
    "                   checks postmaster@HELO; a bare domain means\n"
    "                   postmaster@DOMAIN\n"
    "  --helo NAME      the HELO/EHLO name: %{h} in records; without "
    "--sender,\n"
    "                   the HELO identity is checked (RFC 7208 2.3)\n"
    "  --receiver NAME  the receiving host, for %{r} in explanations\n"
    "  --json           one JSON object on stdout (docs/json.md)\n"
    "  -v, --verbose    log what the probe does on stderr (twice: debug)\n"
    "  --no-color       no colour even on a terminal (also: NO_COLOR=1)\n"
    "  -h, --help       this text\n"
    "\n";

static const char usage_tail[] =
    "\n"
    "Output: the result word alone on the first line (pass, fail, "
    "softfail,\n"
    "neutral, none, permerror, temperror), then the explanation, the DNS "
    "lookup\n"
    "counts against the RFC limits (10 lookups, 2 void lookups) and the "
    "tree.\n"
    "\n"
    "Exit status: 0 pass; 1 neutral, none or softfail; 2 fail or "
    "permerror;\n"
    "3 temperror, or the check could not be run (bad input, bad "
    "fixture).\n"
    "\n"
    "Examples:\n"
    "  probe spf --ip 192.0.2.10 --sender alice@example.com\n"
    "  probe spf --ip 2001:db8::25 --sender bob@example.org --json\n"
    "  probe spf --ip 192.0.2.10 --helo mail.example.com\n"
    "  probe spf --ip 192.0.2.10 --sender a@example.com --dns-fixture "
    "zone.json\n";

enum {
    OPT_JSON = CLI_OPT_FIRST_COMMAND,
    OPT_IP,
    OPT_SENDER,
    OPT_HELO,
    OPT_RECEIVER,
};

/* Reject text no SMTP session could carry, with a clear reason. */
static int
check_name(const char *what, const char *s, size_t max)
{
    size_t i, n = strlen(s);

    if (n > max)
        return cli_usage("spf",
                         "%s is %zu bytes long; at most %zu are "
                         "allowed",
                         what, n, max);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x80)
            return cli_usage("spf",
                             "%s has non-ASCII bytes; give an "
                             "internationalized domain in its "
                             "A-label (xn--) form",
                             what);
        if (c < 0x20 || c == 0x7f)
            return cli_usage("spf",
                             "%s has a control character at byte "
                             "%zu",
                             what, i + 1);
    }
    return 0;
}

int
cmd_spf_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ip", 1, NULL, OPT_IP},
        {"sender", 1, NULL, OPT_SENDER},
        {"helo", 1, NULL, OPT_HELO},
        {"receiver", 1, NULL, OPT_RECEIVER},
        {"json", 0, NULL, OPT_JSON},
        {"help", 0, NULL, 'h'},
        CLI_DNS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct cli_dns dns;
    struct spf_request req;
    struct spf_check check;
    struct dns_resolver *r = NULL;
    struct pb_err err;
    const char *ip = NULL;
    bool json = false, have_sender = false;
    int opt, rc;

    memset(&dns, 0, sizeof(dns));
    memset(&req, 0, sizeof(req));
    optind = 1;
    opterr = 0; /* we say what was wrong ourselves */
    while ((opt = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            fputs(cli_dns_help, stdout);
            fputs(usage_tail, stdout);
            return CLI_OK;
        case OPT_IP:
            ip = optarg;
            break;
        case OPT_SENDER:
            req.sender = optarg;
            have_sender = true;
            break;
        case OPT_HELO:
            req.helo = optarg;
            break;
        case OPT_RECEIVER:
            req.receiver = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        default:
            if (cli_other_option("spf", opt, argv, &dns) == -1)
                return CLI_UNKNOWN;
            break;
        }
    }
    if (optind < argc)
        return cli_usage("spf", "unexpected argument '%s'", argv[optind]);
    if (ip == NULL)
        return cli_usage("spf", "--ip is required");
    if (ipaddr_parse(ip, &req.ip) == -1)
        return cli_usage("spf", "--ip '%s' is not an IPv4 or IPv6 address", ip);
    if (!have_sender && req.helo == NULL)
        return cli_usage("spf", "give --sender, --helo, or both");
    if (req.helo != NULL && req.helo[0] == '\0')
        return cli_usage("spf", "--helo is empty");
    if (have_sender && req.sender[0] == '\0' && req.helo == NULL)
        return cli_usage("spf", "the null sender (--sender \"\") needs "
                                "--helo: SPF then checks postmaster@HELO");
    if (have_sender &&
        check_name("--sender", req.sender, PB_LIMIT_ADDRESS) != 0)
        return CLI_UNKNOWN;
    if (req.helo != NULL &&
        check_name("--helo", req.helo, PB_LIMIT_DNS_NAME + 2) != 0)
        return CLI_UNKNOWN;
    if (req.receiver != NULL &&
        check_name("--receiver", req.receiver, PB_LIMIT_DNS_NAME + 2) != 0)
        return CLI_UNKNOWN;

    if (cli_dns_resolver("spf", &dns, &r) == -1)
        return CLI_UNKNOWN;
    pb_err_clear(&err);
    if (spf_check_host(r, &req, &check, &err) == -1) {
        dns_resolver_free(r);
        return cli_error("spf", &err);
    }
    if (json)
        report_spf_json(stdout, &req, &check);
    else
        report_spf_text(stdout, &req, &check, cli_use_color(stdout));
    fflush(stdout);
    switch (check.result) {
    case SPF_PASS:
        rc = CLI_OK;
        break;
    case SPF_NEUTRAL:
    case SPF_NONE:
    case SPF_SOFTFAIL:
        rc = CLI_WARNING;
        break;
    case SPF_FAIL:
    case SPF_PERMERROR:
        rc = CLI_CRITICAL;
        break;
    default:
        rc = CLI_UNKNOWN;
        break;
    }
    /* every non-zero exit says why in one line on stderr (PRODUCT.md) */
    if (rc != CLI_OK) {
        char *why = report_escape(check.reason ? check.reason : "");

        char *dom = report_escape(check.domain ? check.domain : "");

        fprintf(stderr, "probe spf: %s: %s from %s: %s\n",
                spf_result_name(check.result), dom, ip, why);
        free(dom);
        free(why);
    }
    if (cli_dns_finish("spf", &dns, r) == -1)
        rc = CLI_UNKNOWN;
    spf_check_release(&check);
    dns_resolver_free(r);
    return rc;
}
