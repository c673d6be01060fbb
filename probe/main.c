/* SPDX-License-Identifier: MIT */
/*
 * probe: SMTP test probe and deliverability tester.  Parses the global
 * options and hands the rest of the command line to one command.
 */
#include <stdio.h>
#include <string.h>

#include <sys/select.h>

#include <ares.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libetpan/libetpan_version.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "cmd.h"
#include "pb_lazy.h"

/* libetpan, loaded for --version only (pb_lazy.h) */
#define ETPAN_FUNCS(X)            \
    X(libetpan_get_version_major) \
    X(libetpan_get_version_minor)
PB_LAZY_TABLE(etpan, PB_SONAME_ETPAN, ETPAN_FUNCS)

static const char usage[] =
    "Usage: probe COMMAND [OPTIONS]\n"
    "       probe --relay NAME --to SEEDS ...   (probe send)\n"
    "\n"
    "Find out which check rejects your mail, with evidence.\n"
    "\n"
    "Commands:\n"
    "  send      the whole probe run (default): a DKIM-signed message per "
    "seed\n"
    "            through your relay, the copies read back over IMAP, the "
    "bounces\n"
    "            collected, and the check behind every rejection\n"
    "  explain   name the check behind an SMTP reply, a probe report or a "
    "bounce\n"
    "  check     audit a domain's SPF, DKIM, DMARC, MX, reverse DNS and "
    "block lists\n"
    "  spf       evaluate SPF for a client IP and sender, with the full "
    "lookup tree\n"
    "  sign      add DKIM signatures (rsa-sha256, ed25519-sha256) to "
    "messages\n"
    "  health    scheduled checks for cron or monitoring: one plugin line, "
    "a\n"
    "            history database, alerts on change\n"
    "  history   the runs probe health recorded, with a trend per check\n"
    "\n"
    "Run 'probe COMMAND --help' for a command's options and examples, and\n"
    "see probe(1) for the DNS fixture format and the exit codes:\n"
    "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the probe could not do its "
    "job).\n"
    "\n"
    "  -h, --help     this text\n"
    "  --version      version and library versions\n";

static void
version(void)
{
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

    printf("probe %s\n", PROBE_VERSION);
    printf("libraries: libcurl %s (%s), %s, c-ares %s, libetpan %d.%d, "
           "cJSON %s\n",
           cv->version, cv->ssl_version ? cv->ssl_version : "no TLS",
           OpenSSL_version(OPENSSL_VERSION), ares_version(NULL),
           etpan()->libetpan_get_version_major(),
           etpan()->libetpan_get_version_minor(), cJSON_Version());
}

int
main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_UNKNOWN;
    }
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        version();
        return CLI_OK;
    }
    if (strcmp(cmd, "send") == 0)
        return cmd_send_main(argc - 1, argv + 1);
    /* PRODUCT.md: send is implied when the first argument is an option */
    if (cmd[0] == '-' && cmd[1] != '\0')
        return cmd_send_main(argc, argv);
    if (strcmp(cmd, "explain") == 0)
        return cmd_explain_main(argc - 1, argv + 1);
    if (strcmp(cmd, "spf") == 0)
        return cmd_spf_main(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check_main(argc - 1, argv + 1);
    if (strcmp(cmd, "sign") == 0)
        return cmd_sign_main(argc - 1, argv + 1);
    if (strcmp(cmd, "health") == 0)
        return cmd_health_main(argc - 1, argv + 1);
    if (strcmp(cmd, "history") == 0)
        return cmd_history_main(argc - 1, argv + 1);
    return cli_usage(NULL, "unknown command '%s'", cmd);
}
