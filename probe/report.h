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

#include "analyze.h"

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
