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

#endif
