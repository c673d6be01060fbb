/* SPDX-License-Identifier: MIT */
/*
 * A command-line driver of probe/imap.c for the integration and lab tests
 * (test/integration/imap_hostile.sh, test/lab/imap_lab.sh): opens one
 * connection from its options and runs the commands given after them,
 * printing one line per result.  Not installed.
 *
 *   imap_drive --host H --port P [--address IP] [--tls implicit|starttls]
 *              [--ca-file F] [--insecure] --user U --password-env VAR
 *              [--auth login|plain|xoauth2] [--timeout-ms N] [-v]
 *              COMMAND...
 *
 * Commands: find-junk, select MBOX, examine MBOX, search-header FIELD
 * VALUE, search-from UID, fetch-header UID, fetch UID MAX, wait MS,
 * delete UID, log.  A UID may be "last": the highest UID the last search
 * found.  Exit 0 when everything worked; on an error one line
 * "error: stage=S code=C msg=M evidence=E" on stdout, the protocol log on
 * stderr, exit 2; exit 1 on a bad command line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap.h"
#include "pb_buf.h"
#include "pb_err.h"
#include "pb_log.h"
#include "secret.h"

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: imap_drive --host H --port P [--address IP] "
            "[--tls implicit|starttls]\n"
            "                  [--ca-file F] [--insecure] --user U "
            "--password-env VAR\n"
            "                  [--auth login|plain|xoauth2] [--timeout-ms N] "
            "[-v] COMMAND...\n"
            "commands: find-junk, select MBOX, examine MBOX, search-header "
            "FIELD VALUE,\n"
            "          search-from UID, fetch-header UID, fetch UID MAX, "
            "wait MS, delete UID, log\n");
    exit(1);
}

static unsigned long
number(const char *s, unsigned long max)
{
    char *end;
    unsigned long v;

    if (s == NULL || *s < '0' || *s > '9')
        usage();
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v > max)
        usage();
    return v;
}

static void
print_log(FILE *f, const struct imap_conn *c)
{
    size_t n;
    const char *const *lines = imap_log(c, &n);

    for (size_t i = 0; i < n; i++)
        fprintf(f, "log: %s\n", lines[i]);
}

static int
fail(const struct pb_err *err, const struct imap_conn *c)
{
    printf("error: stage=%s code=%s msg=%s evidence=%s\n",
           pb_stage_name(err->stage), pb_code_name(err->code), err->msg,
           err->evidence);
    fflush(stdout);
    if (c != NULL)
        print_log(stderr, c);
    return 2;
}

static void
print_uids(const char *what, const uint32_t *uids, size_t n)
{
    printf("%s: %zu", what, n);
    for (size_t i = 0; i < n; i++)
        printf(" %" PRIu32, uids[i]);
    printf("\n");
}

/* The raw octets between markers; stdout is the tests' to read. */
static void
print_data(uint32_t uid, const char *data, size_t len, long long idate)
{
    printf("fetch %" PRIu32 ": %zu octets, internaldate %lld\n", uid, len,
           idate);
    printf("--- begin ---\n");
    fwrite(data, 1, len, stdout);
    printf("\n--- end ---\n");
}

int
main(int argc, char **argv)
{
    struct imap_params p;
    struct pb_err err;
    struct secret *secret = NULL;
    struct imap_conn *c = NULL;
    const char *password_env = NULL;
    uint32_t last = 0;
    int i, rc = 0;

    memset(&p, 0, sizeof(p));
    p.tls = IMAP_TLS_IMPLICIT;
    p.auth = IMAP_AUTH_LOGIN;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(o, "--insecure") == 0) {
            p.insecure = true;
            continue;
        }
        if (strcmp(o, "-v") == 0) {
            pb_log_level = PB_LOG_DEBUG;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(o, "--host") == 0)
            p.host = v;
        else if (strcmp(o, "--port") == 0)
            p.port = (unsigned)number(v, 65535);
        else if (strcmp(o, "--address") == 0)
            p.connect_address = v;
        else if (strcmp(o, "--ca-file") == 0)
            p.ca_file = v;
        else if (strcmp(o, "--user") == 0)
            p.user = v;
        else if (strcmp(o, "--password-env") == 0)
            password_env = v;
        else if (strcmp(o, "--timeout-ms") == 0)
            p.connect_timeout_ms = p.command_timeout_ms =
                (unsigned)number(v, 3600000);
        else if (strcmp(o, "--tls") == 0 && strcmp(v, "implicit") == 0)
            p.tls = IMAP_TLS_IMPLICIT;
        else if (strcmp(o, "--tls") == 0 && strcmp(v, "starttls") == 0)
            p.tls = IMAP_TLS_STARTTLS;
        else if (strcmp(o, "--auth") == 0 && strcmp(v, "login") == 0)
            p.auth = IMAP_AUTH_LOGIN;
        else if (strcmp(o, "--auth") == 0 && strcmp(v, "plain") == 0)
            p.auth = IMAP_AUTH_PLAIN;
        else if (strcmp(o, "--auth") == 0 && strcmp(v, "xoauth2") == 0)
            p.auth = IMAP_AUTH_XOAUTH2;
        else
            usage();
    }
    if (password_env == NULL)
        usage();
    pb_err_clear(&err);
    if (secret_from_env(password_env, "--password-env", &secret, &err) < 0)
        return fail(&err, NULL);
    p.secret = secret_data(secret, NULL);

    if (imap_open(&p, &c, &err) < 0) {
        secret_free(secret);
        return fail(&err, NULL);
    }
    /* the secret is not needed after the login */
    secret_free(secret);
    p.secret = NULL;
    {
        const struct imap_tls_info *t = imap_tls(c);

        printf("open: tls %s %s verified=%s subject=%s issuer=%s idle=%d "
               "uidplus=%d\n",
               t->version, t->cipher, t->verified ? "yes" : "no", t->subject,
               t->issuer, imap_has_idle(c), imap_has_uidplus(c));
    }

    for (; i < argc && rc == 0; i++) {
        const char *cmd = argv[i];
        const char *a1 = i + 1 < argc ? argv[i + 1] : NULL;
        const char *a2 = i + 2 < argc ? argv[i + 2] : NULL;

        pb_err_clear(&err);
        if (strcmp(cmd, "find-junk") == 0) {
            char *name = NULL;

            if (imap_find_special(c, "\\Junk", &name, &err) < 0) {
                rc = fail(&err, c);
                break;
            }
            printf("junk: %s\n", name ? name : "(none)");
            free(name);
        } else if (strcmp(cmd, "select") == 0 || strcmp(cmd, "examine") == 0) {
            uint32_t validity, next;

            if (a1 == NULL)
                usage();
            i++;
            if (imap_select(c, a1, cmd[0] == 'e', &validity, &next, &err) < 0) {
                rc = fail(&err, c);
                break;
            }
            printf("%s %s: uidvalidity %" PRIu32 " uidnext %" PRIu32 "\n", cmd,
                   a1, validity, next);
        } else if (strcmp(cmd, "search-header") == 0 ||
                   strcmp(cmd, "search-from") == 0) {
            uint32_t *uids = NULL;
            size_t n = 0;
            int r;

            if (cmd[7] == 'h') {
                if (a1 == NULL || a2 == NULL)
                    usage();
                i += 2;
                r = imap_search_header(c, a1, a2, 0, &uids, &n, &err);
            } else {
                if (a1 == NULL)
                    usage();
                i++;
                r = imap_search_from(c, (uint32_t)number(a1, UINT32_MAX), &uids,
                                     &n, &err);
            }
            if (r < 0) {
                rc = fail(&err, c);
                break;
            }
            print_uids("search", uids, n);
            last = n > 0 ? uids[n - 1] : 0;
            free(uids);
        } else if (strcmp(cmd, "fetch-header") == 0 ||
                   strcmp(cmd, "fetch") == 0) {
            bool header_only = strcmp(cmd, "fetch-header") == 0;
            uint32_t uid;
            size_t max = 0, len = 0;
            char *data = NULL;
            long long idate = 0;

            if (a1 == NULL || (!header_only && a2 == NULL))
                usage();
            uid = strcmp(a1, "last") == 0 ? last
                                          : (uint32_t)number(a1, UINT32_MAX);
            if (!header_only)
                max = number(a2, SIZE_MAX);
            i += header_only ? 1 : 2;
            if (imap_fetch(c, uid, header_only, max, &data, &len, &idate,
                           &err) < 0) {
                rc = fail(&err, c);
                break;
            }
            if (data == NULL)
                printf("fetch %" PRIu32 ": gone\n", uid);
            else
                print_data(uid, data, len, idate);
            free(data);
        } else if (strcmp(cmd, "wait") == 0) {
            int64_t t0 = now_ms();
            int r;

            if (a1 == NULL)
                usage();
            i++;
            r = imap_wait(c, (unsigned)number(a1, 3600000), &err);
            if (r < 0) {
                rc = fail(&err, c);
                break;
            }
            printf("wait: %d after %lld ms\n", r, (long long)(now_ms() - t0));
        } else if (strcmp(cmd, "delete") == 0) {
            uint32_t uid;
            bool all = false;

            if (a1 == NULL)
                usage();
            uid = strcmp(a1, "last") == 0 ? last
                                          : (uint32_t)number(a1, UINT32_MAX);
            i++;
            if (imap_delete(c, &uid, 1, &all, &err) < 0) {
                rc = fail(&err, c);
                break;
            }
            printf("delete %" PRIu32 ": ok%s\n", uid,
                   all ? " (EXPUNGE: all \\Deleted removed)" : "");
        } else if (strcmp(cmd, "log") == 0) {
            print_log(stdout, c);
        } else {
            usage();
        }
        fflush(stdout);
    }
    imap_close(c);
    return rc;
}
