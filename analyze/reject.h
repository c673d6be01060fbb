/* SPDX-License-Identifier: MIT */
/*
 * Which check rejected the mail: an SMTP refusal (stage, reply code,
 * enhanced status, text, server) judged by rules that are data
 * (profiles/rules/ *.json, format in docs/rules.md) into one of the
 * rejection categories of PRODUCT.md, with the provider recognised, the
 * rule that matched, a confidence, an explanation, the remedy and the
 * rule's public source.  The meaning of the enhanced status code itself
 * (RFC 3463, IANA) is smtp_status_meaning()'s job.  Included from
 * analyze.h.
 */
#ifndef PB_ANALYZE_REJECT_H
#define PB_ANALYZE_REJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "pb_err.h"

/* PRODUCT.md, "Rejection categories": exactly these names. */
enum reject_category {
    REJECT_SPF = 0,
    REJECT_DKIM,
    REJECT_DMARC,
    REJECT_AUTH_MULTIPLE,
    REJECT_RELAY_DENIED,
    REJECT_SMTP_AUTH,
    REJECT_PTR,
    REJECT_BLOCKLIST,
    REJECT_REPUTATION,
    REJECT_CONTENT,
    REJECT_RATE_LIMIT,
    REJECT_TLS_REQUIRED,
    REJECT_RECIPIENT_UNKNOWN,
    REJECT_MAILBOX_FULL,
    REJECT_MAILBOX_DISABLED,
    REJECT_MESSAGE_SIZE,
    REJECT_DNS_SENDER,
    REJECT_POLICY_OTHER,
    REJECT_CATEGORY_COUNT
};
/* "spf", "auth-multiple", ..., "policy-other"; "unknown" out of range. */
const char *reject_category_name(enum reject_category c);
/* The category of a name (exact, lower case); -1 when it is none of them. */
int reject_category_parse(const char *name);

enum reject_confidence {
    REJECT_CONF_LOW = 0, /* nothing names the check: said plainly */
    REJECT_CONF_MEDIUM,  /* a provider's wording or code points to it */
    REJECT_CONF_HIGH,    /* the reply (or a trusted Authentication-Results)
                            names the check */
};
/* "low", "medium", "high". */
const char *reject_confidence_name(enum reject_confidence c);

/*
 * What we know of one refusal.  Strings are borrowed and untrusted.  A
 * text that starts with the reply code and enhanced status ("550-5.7.26
 * ...", multi-line replies, "smtp; 550 ..." from a Diagnostic-Code) is
 * fine: they are taken from it when code or status is not given, and each
 * line's code prefix is dropped before the text is searched.
 */
struct reject_input {
    enum pb_stage stage; /* PB_STAGE_NONE when unknown; a rule that names
                            stages never matches an unknown stage */
    int code;            /* SMTP reply code, 0 when unknown */
    const char *status;  /* enhanced status ("5.7.26") or NULL; one that is
                            not RFC 3463 syntax counts as unknown */
    const char *text;    /* the server's text (any bytes), or NULL */
    size_t text_len;
    const char *host; /* the server that refused (remote MTA, relay), or
                         NULL: used to recognise the provider */
};

struct reject_verdict {
    enum reject_category category;
    bool is_permanent; /* by the reply code, else the status class (5 is
                          permanent, 4 transient); true when neither is
                          known (a bounce is a final failure) */
    enum reject_confidence confidence;
    char provider[32];     /* recognised by host first, else the matched
                              rule's provider, else by text: "google",
                              "microsoft", "yahoo", "postfix", ... or "" */
    char rule[64];         /* id of the rule that matched, "" for the
                              fallback */
    char explanation[256]; /* one sentence: what the server meant */
    char remedy[512];      /* what to fix, as a deliverability engineer says
                              it (one or two sentences) */
    char source[256];      /* the rule's public source (URL), or "" */
};

/* Rules loaded from JSON (docs/rules.md). */
struct reject_rules;

/*
 * Load every *.json in dir (not hidden files), in byte order of their
 * names, as rule files: the same as reject_rules_add() for each, so a
 * provider must be declared in its file or an earlier one, and ids are
 * unique across the set.  Returns 0 with *out owned by the caller
 * (reject_rules_free()), or -1 with *out NULL and err at PB_STAGE_CONFIG:
 * PB_E_IO (no such directory, unreadable file, no rule file at all),
 * PB_E_LIMIT (a file over PB_LIMIT_REJECT_FILE, too many rules,
 * providers or files), PB_E_SYNTAX ("FILE:LINE:COL: not valid JSON",
 * "FILE: $.rules[3].text: not a valid regular expression: ...", unknown
 * or duplicate keys, wrong types, unknown categories, stages or
 * providers, malformed codes and statuses).
 */
int reject_rules_load(const char *dir, struct reject_rules **out,
                      struct pb_err *err);
/*
 * Add the rule file (p, len), named name in messages, to *rules (a new
 * set when *rules is NULL).  The file is untrusted: checked as above.  On
 * failure *rules is unchanged (a set it created is freed and NULL again).
 */
int reject_rules_add(struct reject_rules **rules, const char *name,
                     const void *p, size_t len, struct pb_err *err);
/* Does nothing for NULL. */
void reject_rules_free(struct reject_rules *r);
/* Number of rules loaded (for --help and tests); 0 for NULL. */
size_t reject_rules_count(const struct reject_rules *r);

/*
 * Judge one refusal.  The rules are tried most specific first: a rule
 * with a text pattern before one without, then one tied to a provider or
 * host, then one tied to stages, then the more precise enhanced status,
 * the more precise reply code; equally specific rules in load order.  The first
 * rule whose every condition holds decides.  What no rule explains is
 * REJECT_POLICY_OTHER with low confidence and an explanation that says so.
 * rules may be NULL (only that fallback).  Never fails; bounded work:
 * the text is searched within its first PB_LIMIT_REJECT_TEXT octets.
 */
void reject_classify(const struct reject_rules *rules,
                     const struct reject_input *in, struct reject_verdict *out);

#endif
