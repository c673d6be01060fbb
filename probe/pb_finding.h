/* SPDX-License-Identifier: MIT */
/*
 * Findings: facts about the domain, relay or message under test ("two SPF
 * records", "RSA key of 1024 bits"), as opposed to errors (the probe could
 * not do its job).  Each has a stable id, a severity, our message, the
 * evidence as received and the remedy in the words of the fix.
 */
#ifndef PB_PROBE_PB_FINDING_H
#define PB_PROBE_PB_FINDING_H

#include <stddef.h>

enum pb_severity {
    PB_SEV_INFO = 0, /* worth knowing, nothing to fix */
    PB_SEV_WARN,     /* works, but weak or risky */
    PB_SEV_FAIL,     /* broken: mail is or will be rejected */
    PB_SEV_ERROR,    /* could not check (DNS timeout, SERVFAIL) */
};

/* Status of a check or a whole audit, from its findings. */
enum pb_status {
    PB_STATUS_OK = 0,
    PB_STATUS_WARN,
    PB_STATUS_FAIL,
    PB_STATUS_ERROR,
};

/* Evidence kept per finding; the full record stays in the check's data. */
#define PB_FINDING_EVIDENCE_MAX 2048

struct pb_finding {
    const char *check; /* "spf", "dkim", ...: static */
    const char *id;    /* stable id, "spf-too-many-lookups": static */
    enum pb_severity sev;
    char *message;  /* our words, one sentence, no final period */
    char *evidence; /* outside text as received, or NULL; escape on output */
    size_t evidence_len;
    char *remedy; /* the fix in words, or NULL */
};

struct pb_findings {
    struct pb_finding *v;
    size_t n;
    size_t cap;
};

void pb_findings_init(struct pb_findings *f);
void pb_findings_release(struct pb_findings *f);

/*
 * Add a finding with a message from our own format (outside text only
 * through "%s").  check and id must be static strings.  Returns the new
 * finding, valid until the next add, to attach evidence and a remedy.
 */
struct pb_finding *pb_findings_add(struct pb_findings *f, const char *check,
                                   const char *id, enum pb_severity sev,
                                   const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Attach outside bytes (p, len) as evidence; over PB_FINDING_EVIDENCE_MAX
 * it keeps the start and says how many bytes were left out.
 */
void pb_finding_evidence(struct pb_finding *fd, const void *p, size_t len);
void pb_finding_remedy(struct pb_finding *fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The first finding with this id, or NULL; *count (may be NULL) gets how
 * many there are.
 */
const struct pb_finding *pb_findings_find(const struct pb_findings *f,
                                          const char *id, size_t *count);

/* The status findings give: the worst severity (INFO counts as OK). */
enum pb_status pb_findings_status(const struct pb_findings *f);
/*
 * Combine two statuses: FAIL beats ERROR beats WARN beats OK (a definite
 * failure is the answer even when another check could not run).
 */
enum pb_status pb_status_worst(enum pb_status a, enum pb_status b);
/* Exit code of a status: 0, 1, 2, 3 (monitoring-plugins). */
int pb_status_exit(enum pb_status s);
const char *pb_status_name(enum pb_status s);     /* ok warn fail error */
const char *pb_severity_name(enum pb_severity s); /* info warn fail error */

#endif
