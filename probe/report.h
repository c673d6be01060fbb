/* SPDX-License-Identifier: MIT */
/*
 * Reports: the only place results become output, as text for a person
 * (colour only when asked) or as JSON a program can trust.  All outside
 * text (records, names, answers) is escaped before it is printed.
 */
#ifndef PB_PROBE_REPORT_H
#define PB_PROBE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "analyze.h"
#include "pb_finding.h"

/* Terminal styling: all "" when colour is off (see cli_use_color). */
struct report_style {
    const char *bold, *red, *yellow, *green, *dim, *off;
};

const struct report_style *report_style_get(bool color);
/* Colour of a status or severity word. */
const char *report_status_color(const struct report_style *st,
                                enum pb_status s);
const char *report_severity_color(const struct report_style *st,
                                  enum pb_severity s);

/* Escaped, malloc'd copy of outside bytes (see pb_escape_to). */
char *report_escape_n(const void *p, size_t len);

/* Add key: escaped s, or null when s is NULL. */
void report_json_str(cJSON *o, const char *key, const char *s);

/*
 * The findings as a JSON array of {"id", "severity", "message",
 * "evidence", "remedy"} (evidence and remedy null when absent).
 */
cJSON *report_findings_json(const struct pb_findings *f);

/*
 * The findings as text, one block each, indented by indent:
 *   FAIL spf-too-many-lookups: 13 DNS lookups, the limit is 10
 *        evidence: "v=spf1 include:..."
 *        fix: flatten include:x.example to stay under 10 lookups
 */
void report_findings_text(FILE *f, const struct pb_findings *fs,
                          const struct report_style *st, int indent);

/* Escaped, malloc'd copy of outside text for one line of output. */
char *report_escape(const char *s);

/* The SPF check as one JSON object (see docs/json.md) on f, newline-ended. */
void report_spf_json(FILE *f, const struct spf_request *req,
                     const struct spf_check *c);
/* The SPF check as text: the result word alone on the first line, then
 * the explanation, the counts and the evaluation tree. */
void report_spf_text(FILE *f, const struct spf_request *req,
                     const struct spf_check *c, bool color);

/* `probe check` (report_check.c) */
struct check_result;
/* The audit of one domain as one JSON object (docs/json.md). */
cJSON *report_check_json(const struct check_result *res);
/* A domain that could not be audited: {"domain", "status": "error",
 * "error"}. */
cJSON *report_check_error_json(const char *domain, const char *error);
/* The audit as text, grouped by check, findings with their fixes. */
void report_check_text(FILE *f, const struct check_result *res,
                       const struct report_style *st);
/* One line per domain, for --batch without --json. */
void report_check_line(FILE *f, const struct check_result *res,
                       const struct report_style *st);

/* DKIM (report_dkim.c) */
/*
 * The DKIM check as one JSON object: {"status", "discovery",
 * "selectors_tried", "selectors": [{"selector", "name", "found", "lookup",
 * "cname", "record", "key_type", "key_bits", "testing", "revoked", "hash",
 * "status"}], "findings"}.  The caller owns it (cJSON_Delete).
 */
cJSON *report_dkim_json(const struct dkim_audit *a);
/*
 * The DKIM check's data lines, indented by 2: one per selector ("NAME[ ->
 * CNAME]: rsa 2048 bits") and its record; no header, no findings.
 */
void report_dkim_text(FILE *f, const struct dkim_audit *a,
                      const struct report_style *st);

/* DMARC (report_dmarc.c) */
/*
 * The DMARC check as one JSON object (docs/findings-dmarc.md): {"status",
 * "domain", "record", "found_at", "found_by", "found_at_by_method": {"psl",
 * "tree_walk"}, "org_domain": {"psl", "tree_walk"}, "tags", "policy",
 * "rua": [{"uri", "domain", "valid", "external", "authorized",
 * "authorization", "authorization_name"}], "ruf": [...], "tree_walk",
 * "findings"}.  Outside text is escaped.  The caller owns it (cJSON_Delete).
 */
cJSON *report_dmarc_json(const struct dmarc_audit *a);
/*
 * The DMARC check's data lines, indented by 2: the record, where it was
 * found, the organizational domains, the policy, rua/ruf destinations and
 * the names looked up; no header, no findings.
 */
void report_dmarc_text(FILE *f, const struct dmarc_audit *a,
                       const struct report_style *st);

/* MX, PTR, DNSBL (report_hosts.c) */
/*
 * Each check as one JSON object the caller owns (cJSON_Delete), outside
 * text escaped:
 *   mx: {"status", "lookup", "records": [{"preference", "exchange",
 *       "addresses", "cname", "status"}], "null_mx", "implicit",
 *       "implicit_addresses", "findings"}
 *   ptr: {"status", "ips": [{"ip", "reverse", "lookup", "ptr": [names],
 *       "forward": [{"name", "lookup", "addresses", "confirmed", "generic",
 *       "generic_reason"?, "in_domain"}], "confirmed", "generic",
 *       "in_domain", "status"}], "findings"}
 *   dnsbl: {"status", "zones": [{"zone", "kind", "name", "ipv6"}],
 *       "results": [{"target", "kind", "zone", "query", "state", "listed",
 *       "lookup", "codes": [{"code", "kind", "meaning"}], "txt",
 *       "status"}], "findings"}
 */
cJSON *report_mx_json(const struct mx_audit *a);
cJSON *report_ptr_json(const struct ptr_audit *a);
cJSON *report_dnsbl_json(const struct dnsbl_audit *a);
/*
 * The check's data lines, indented by 2 (one per MX record, per IP and
 * its PTR names, per block list result); no header, no findings.
 */
void report_mx_text(FILE *f, const struct mx_audit *a,
                    const struct report_style *st);
void report_ptr_text(FILE *f, const struct ptr_audit *a,
                     const struct report_style *st);
void report_dnsbl_text(FILE *f, const struct dnsbl_audit *a,
                       const struct report_style *st);

/* `probe send` (report_send.c) */
struct send_run;
struct pb_transcript;
/* The run as one JSON object (docs/json.md, "probe send"). */
cJSON *report_send_json(const struct send_run *run, int exit_code);
/* The run for a person: relay, sender, one line per seed, the TLS facts
 * and the counts; with_transcripts adds every seed's transcript. */
void report_send_text(FILE *f, const struct send_run *run,
                      const struct report_style *st, bool with_transcripts);
/* The lines above the table: run, relay, From and DKIM. */
void report_send_header(FILE *f, const struct send_run *run,
                        const struct report_style *st);
/* Every seed's SMTP transcript, as --transcript prints them. */
void report_send_transcripts(FILE *f, const struct send_run *run,
                             const struct report_style *st);

/* A whole probe run (verdict.h): the table and the remedies; --json. */
struct run_verdicts;
struct collect;
void report_run_text(FILE *f, const struct send_run *run,
                     const struct collect *col, const struct run_verdicts *rv,
                     const struct report_style *st, bool with_transcripts);
cJSON *report_run_json(const struct send_run *run, const struct collect *col,
                       const struct run_verdicts *rv, unsigned wait_s,
                       int exit_code);
/* A transcript as a JSON array of {"t", "ms", "dir", "text"}. */
cJSON *report_transcript_json(const struct pb_transcript *t);

/* `probe explain` (report_explain.c) */
struct explain_result;
/* One input's result as a JSON object (docs/json.md, "probe explain"). */
cJSON *report_explain_json(const char *name, const struct explain_result *r);
/* The same object as one line of JSON (the bytes cJSON_PrintUnformatted()
 * gives) and a newline, appended to out; -1 when out's limit was reached. */
struct pb_buf;
int report_explain_json_line(struct pb_buf *out, const char *name,
                             const struct explain_result *r);
/* An input that could not be read: {"input", "kind": "error", "error"}. */
cJSON *report_explain_error_json(const char *name, const char *error);
/* One input's result for a person: per refusal the category, the reply,
 * the server, the rule, why and the fix. */
void report_explain_text(FILE *f, const char *name,
                         const struct explain_result *r,
                         const struct report_style *st);

#endif
