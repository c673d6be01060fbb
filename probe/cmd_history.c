/* SPDX-License-Identifier: MIT */
/*
 * `probe history`: the record `probe health` keeps, run by run, with a
 * compact trend per check.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "history.h"
#include "pb_xalloc.h"
#include "report.h"

static const char usage[] =
    "Usage: probe history [--history FILE] [--check NAME] [--since TIME] "
    "[--last N] [--json]\n"
    "\n"
    "Show the runs `probe health` recorded, oldest first: when, the status, "
    "each\n"
    "check's status and what changed; then a trend per check (one letter a "
    "run,\n"
    "newest last: O ok, W warning, C critical, U unknown, A aborted).\n"
    "\n"
    "  --history FILE  the database (default as for probe health: "
    "$PROBE_STATE_DIR,\n"
    "                  $XDG_STATE_HOME/probe, /var/lib/probe as root,\n"
    "                  ~/.local/state/probe; history.db)\n"
    "  --check NAME    only this check\n"
    "  --since TIME    only runs from this UTC time on: 2026-11-28 or\n"
    "                  2026-11-28T08:00:00Z\n"
    "  --last N        the newest N runs (default 50, at most 100000)\n"
    "  --json          one JSON object: {\"runs\": [...], \"trend\": {...}}\n"
    "  -h, --help      this text\n"
    "\n"
    "Exit status: 0, or 3 when the database cannot be read.\n";

static char
letter(const struct history_run *r, enum history_status s)
{
    if (r->aborted)
        return 'A';
    return "OWCU"[s & 3];
}

static cJSON *
runs_json(const struct history_run *v, size_t n)
{
    cJSON *o = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(o, "runs");
    cJSON *trend = cJSON_AddObjectToObject(o, "trend");

    for (size_t i = 0; i < n; i++) {
        const struct history_run *r = &v[i];
        cJSON *ro = cJSON_CreateObject(), *checks;

        cJSON_AddNumberToObject(ro, "id", (double)r->id);
        cJSON_AddStringToObject(ro, "started", r->started);
        cJSON_AddStringToObject(ro, "finished", r->finished);
        cJSON_AddStringToObject(ro, "status", history_status_name(r->status));
        cJSON_AddBoolToObject(ro, "aborted", r->aborted);
        report_json_str(ro, "summary", r->summary);
        checks = cJSON_AddArrayToObject(ro, "checks");
        for (size_t k = 0; k < r->nchecks; k++) {
            const struct history_check *c = &r->checks[k];
            cJSON *co = cJSON_CreateObject(), *f;
            cJSON *t = cJSON_GetObjectItemCaseSensitive(trend, c->name);
            char l[2] = {letter(r, c->status), '\0'};

            report_json_str(co, "name", c->name);
            report_json_str(co, "kind", c->kind);
            cJSON_AddStringToObject(co, "status",
                                    history_status_name(c->status));
            cJSON_AddNumberToObject(co, "duration_s", c->duration_s);
            report_json_str(co, "summary", c->summary);
            f = cJSON_AddArrayToObject(co, "findings");
            for (size_t x = 0; x < c->nfindings; x++) {
                cJSON *fo = cJSON_CreateObject();

                report_json_str(fo, "key", c->findings[x].key);
                cJSON_AddStringToObject(
                    fo, "severity",
                    history_status_name(
                        (enum history_status)c->findings[x].severity));
                report_json_str(fo, "summary", c->findings[x].summary);
                cJSON_AddItemToArray(f, fo);
            }
            cJSON_AddItemToArray(checks, co);
            if (t == NULL) {
                char *esc = report_escape(c->name);

                cJSON_AddStringToObject(trend, esc, l);
                free(esc);
            } else {
                char *s = pb_xasprintf("%s%s", t->valuestring, l);

                cJSON_SetValuestring(t, s);
                free(s);
            }
        }
        cJSON_AddItemToArray(runs, ro);
    }
    return o;
}

static void
runs_text(FILE *f, const struct history_run *v, size_t n)
{
    char **names = NULL, **trends = NULL;
    size_t nn = 0;

    if (n == 0) {
        fprintf(f, "no runs recorded\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct history_run *r = &v[i];
        char *sum = report_escape(r->summary ? r->summary : "");

        fprintf(f, "%s  %-8s %s%s\n", r->started,
                history_status_name(r->status), r->aborted ? "aborted: " : "",
                sum);
        free(sum);
        for (size_t k = 0; k < r->nchecks; k++) {
            const struct history_check *c = &r->checks[k];
            size_t j;

            for (j = 0; j < nn && strcmp(names[j], c->name) != 0; j++)
                ;
            if (j == nn) {
                names = pb_xreallocarray(names, nn + 1, sizeof(*names));
                trends = pb_xreallocarray(trends, nn + 1, sizeof(*trends));
                names[nn] = report_escape(c->name);
                trends[nn] = pb_xcalloc(n + 1, 1);
                nn++;
            }
            trends[j][strlen(trends[j])] = letter(r, c->status);
        }
    }
    fprintf(f, "\ntrend (oldest first; O ok, W warning, C critical, U "
               "unknown, A aborted)\n");
    for (size_t j = 0; j < nn; j++) {
        fprintf(f, "  %-30s %s\n", names[j], trends[j]);
        free(names[j]);
        free(trends[j]);
    }
    free(names);
    free(trends);
}

int
cmd_history_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"history", 1, NULL, 'H'}, {"check", 1, NULL, 'c'},
        {"since", 1, NULL, 's'},   {"last", 1, NULL, 'n'},
        {"json", 0, NULL, 'j'},    {"help", 0, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *check = NULL, *since = NULL;
    struct history_run *v = NULL;
    struct history *h = NULL;
    struct pb_err err;
    char *def = NULL;
    long last = 50;
    bool json = false;
    size_t n = 0;
    int opt, rc;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return CLI_OK;
        case 'H':
            path = optarg;
            break;
        case 'c':
            check = optarg;
            break;
        case 's':
            since = optarg;
            break;
        case 'n':
            if (cli_parse_int(optarg, 1, 100000, &last) < 0)
                return cli_usage("history", "--last takes 1 to 100000");
            break;
        case 'j':
            json = true;
            break;
        default:
            return cli_usage("history", "bad option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage("history", "unexpected argument '%s'", argv[optind]);
    if (path == NULL)
        path = def = health_default_history();
    pb_err_clear(&err);
    if (access(path, F_OK) != 0) {
        fprintf(stderr,
                "probe history: %s: no history yet (probe health writes "
                "it)\n",
                path);
        free(def);
        return CLI_UNKNOWN;
    }
    if (history_open(path, false, &h, &err) < 0 ||
        history_runs(h, check, since, (size_t)last, &v, &n, &err) < 0) {
        rc = cli_error("history", &err);
        history_close(h);
        free(def);
        return rc;
    }
    if (json) {
        cJSON *o = runs_json(v, n);
        char *s = cJSON_PrintUnformatted(o);

        if (s != NULL)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        runs_text(stdout, v, n);
    }
    history_runs_free(v, n);
    history_close(h);
    free(def);
    return CLI_OK;
}
