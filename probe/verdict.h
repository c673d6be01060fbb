/* SPDX-License-Identifier: MIT */
/*
 * The verdict of a probe run, one per seed: where the message went
 * (inbox, spam, rejected at the relay, bounced by the receiver, deferred,
 * missing, error), the receiver's own Authentication-Results (only those
 * its authserv-id vouches for), and for every failure the check behind it
 * with confidence, evidence and remedy.  A generic refusal ("550 5.7.0
 * Local policy violation") is correlated with the DNS audit of the From
 * domain for the relay's egress IP, the DKIM signature the message
 * carried and what other seeds' receivers said.
 */
#ifndef PB_PROBE_VERDICT_H
#define PB_PROBE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "analyze.h"
#include "check.h"
#include "collect.h"
#include "send.h"

enum verdict_outcome {
    VERDICT_INBOX = 0,
    VERDICT_SPAM,
    VERDICT_REJECTED, /* by the relay, in the SMTP session */
    VERDICT_BOUNCED,  /* by the receiver: a DSN came back */
    VERDICT_DEFERRED, /* 4xx at the relay, or a "delayed" DSN */
    VERDICT_MISSING,  /* readable, but neither copy nor bounce in time */
    VERDICT_ERROR,    /* the probe could not find out */
    VERDICT_ACCEPTED, /* send only: the relay took it, nothing to read */
    VERDICT_COUNT
};
/* "inbox", "spam", "rejected", "bounced", "deferred", "missing", "error",
   "accepted" */
const char *verdict_outcome_name(enum verdict_outcome o);

#define VERDICT_MAX_EVIDENCE 8

/* The Authentication-Results of a copy, and which of them to believe. */
struct verdict_auth {
    size_t n;               /* fields, topmost first */
    struct authres *fields; /* those that parsed */
    enum authres_trust *trust;
    size_t first, ntrusted; /* the trusted block */
    /* results of the trusted fields; NULL when the receiver said nothing */
    const struct authres_result *spf, *dkim, *dmarc, *arc, *iprev;
    size_t nforeign; /* fields not believed */
    /*
     * The last nsent fields were in the message as it was sent (a sender
     * can write any authserv-id): never believed, whatever their id.
     */
    size_t nsent;
};

struct seed_verdict {
    enum verdict_outcome outcome;
    bool has_category; /* a failure was judged */
    struct reject_verdict rv;
    enum pb_stage stage;
    int code;
    char status[16];
    char *reply; /* the refusal's text (escaped), or NULL */
    char *reporting_mta;
    char *evidence[VERDICT_MAX_EVIDENCE]; /* our sentences, escaped */
    size_t nevidence;
    char summary[320]; /* one line: why this outcome */
    /* delivery */
    bool has_latency;
    double latency_s;   /* Date: to the receiver's Received: */
    char egress_ip[64]; /* where the relay sent it from, or "" */
    char received_by[128];
    struct verdict_auth auth;
    bool is_clean; /* inbox, and SPF or DKIM passed aligned (DMARC pass) */
};

struct run_verdicts {
    struct seed_verdict *v;
    size_t n;
    size_t counts[VERDICT_COUNT];
    /* the correlation's facts */
    char egress_ip[64];
    char egress_source[200]; /* where the egress IP was learned */
    bool has_audit;
    struct check_result audit; /* From domain, egress IP, our selectors */
    bool has_spf_mfrom;
    char mfrom_domain[PB_LIMIT_DNS_NAME + 1];
    struct spf_check spf_mfrom; /* MAIL FROM domain for the egress IP */
    bool has_self_dkim;
    struct dkim_verify self_dkim; /* the signed message against DNS */
};

/*
 * Judge every seed of a finished run.  r (may be NULL: no DNS, no
 * correlation) resolves the audit; egress (may be NULL) is --egress-ip.
 */
void verdicts_build(struct run_verdicts *out, const struct send_run *run,
                    const struct collect *col, const struct reject_rules *rules,
                    struct dns_resolver *r, const char *egress);
/* 0 every seed in the inbox, authenticated and aligned (or send-only and
 * accepted); 1 spam, a deferral or a warning; 2 rejected, bounced,
 * missing or error. */
int verdicts_exit_code(const struct run_verdicts *rv);
void verdicts_release(struct run_verdicts *rv);

/*
 * The IP address in the topmost Received: field of a header block (the
 * host that handed the message to the receiver), written to ip (size at
 * least 64), and the receiving host's "by" name to by when not NULL.
 * Returns 0 or -1 when there is none.
 */
int verdict_received_ip(const char *hdr, size_t len, char *ip, char *by,
                        size_t bysize);

#endif
