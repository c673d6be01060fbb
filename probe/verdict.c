/* SPDX-License-Identifier: MIT */
#include "verdict.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pb_addr.h"
#include "pb_buf.h"
#include "pb_xalloc.h"
#include "report.h"

/* Header fields looked at in a copy (the header block is capped by
   imap_fetch already; this bounds the work per copy). */
#define VERDICT_MAX_FIELDS  1000
#define VERDICT_MAX_AUTHRES 64

static const char *const outcome_names[VERDICT_COUNT] = {
    "inbox",    "spam",    "rejected", "bounced",
    "deferred", "missing", "error",    "accepted",
};

const char *
verdict_outcome_name(enum verdict_outcome o)
{
    return o < VERDICT_COUNT ? outcome_names[o] : "unknown";
}

/* ------------------------------------------------------------------ */
/* Header fields                                                       */

/*
 * The next field of a header block from *off: its name (np, nlen) and
 * its raw value (vp, vlen, folding included).  0, or -1 at the end of the
 * header (an empty line or the end of the text).
 */
static int
hdr_next(const char *p, size_t len, size_t *off, const char **np, size_t *nlen,
         const char **vp, size_t *vlen)
{
    size_t i = *off, start, colon;

    for (;;) {
        if (i >= len || p[i] == '\n' ||
            (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n'))
            return -1;
        start = i;
        while (i < len && p[i] != ':' && p[i] != '\n')
            i++;
        if (i >= len)
            return -1;
        if (p[i] == '\n') { /* not a field: skip the line */
            i++;
            continue;
        }
        colon = i++;
        /* the value runs to a line end not followed by WSP */
        while (i < len) {
            if (p[i] == '\n' &&
                !(i + 1 < len && (p[i + 1] == ' ' || p[i + 1] == '\t')))
                break;
            i++;
        }
        *np = p + start;
        *nlen = colon - start;
        while (*nlen > 0 &&
               ((*np)[*nlen - 1] == ' ' || (*np)[*nlen - 1] == '\t'))
            (*nlen)--;
        *vp = p + colon + 1;
        *vlen = i - colon - 1;
        if (*vlen > 0 && (*vp)[*vlen - 1] == '\r')
            (*vlen)--;
        *off = i < len ? i + 1 : i;
        return 0;
    }
}

static bool
name_is(const char *np, size_t nlen, const char *want)
{
    return strlen(want) == nlen && strncasecmp(np, want, nlen) == 0;
}

/* The value unfolded, spaces squeezed, escaped, malloc'd. */
static char *
hdr_unfold(const char *vp, size_t vlen)
{
    char *tmp = pb_xmalloc(vlen + 1), *out;
    size_t n = 0;
    bool sp = true;

    for (size_t i = 0; i < vlen; i++) {
        char ch = vp[i];

        if (ch == '\r' || ch == '\n' || ch == '\t' || ch == ' ') {
            if (!sp)
                tmp[n++] = ' ';
            sp = true;
            continue;
        }
        tmp[n++] = ch;
        sp = false;
    }
    while (n > 0 && tmp[n - 1] == ' ')
        n--;
    out = report_escape_n(tmp, n);
    free(tmp);
    return out;
}

/* The first field named name, unfolded, or NULL. */
static char *
hdr_get(const char *p, size_t len, const char *name)
{
    const char *np, *vp;
    size_t nlen, vlen, off = 0, k = 0;

    while (k++ < VERDICT_MAX_FIELDS &&
           hdr_next(p, len, &off, &np, &nlen, &vp, &vlen) == 0)
        if (name_is(np, nlen, name))
            return hdr_unfold(vp, vlen);
    return NULL;
}

/* An IP literal inside [...] of text (IPv6: prefix dropped). */
static bool
bracket_ip(const char *s, size_t n, char *ip)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1, k;
        struct ipaddr a;
        char buf[64];

        if (s[i] != '[')
            continue;
        if (n - j >= 5 && strncasecmp(s + j, "IPv6:", 5) == 0)
            j += 5;
        for (k = j; k < n && s[k] != ']' && k - j < 63; k++)
            ;
        if (k >= n || s[k] != ']')
            continue;
        memcpy(buf, s + j, k - j);
        buf[k - j] = '\0';
        if (ipaddr_parse(buf, &a) == 0) {
            ipaddr_format(&a, ip, 64);
            return true;
        }
    }
    return false;
}

int
verdict_received_ip(const char *hdr, size_t len, char *ip, char *by,
                    size_t bysize)
{
    const char *np, *vp;
    size_t nlen, vlen, off = 0, k = 0;

    ip[0] = '\0';
    if (by != NULL && bysize > 0)
        by[0] = '\0';
    while (k++ < VERDICT_MAX_FIELDS &&
           hdr_next(hdr, len, &off, &np, &nlen, &vp, &vlen) == 0) {
        char *v;
        const char *b, *end;

        if (!name_is(np, nlen, "Received"))
            continue;
        v = hdr_unfold(vp, vlen);
        b = strstr(v, " by ");
        end = b ? b : v + strlen(v);
        if (by != NULL && b != NULL) {
            size_t w = strcspn(b + 4, " ;(");

            snprintf(by, bysize, "%.*s", (int)(w < 127 ? w : 127), b + 4);
        }
        if (strncmp(v, "from ", 5) == 0 &&
            bracket_ip(v, (size_t)(end - v), ip)) {
            free(v);
            return 0;
        }
        free(v);
        return -1; /* only the topmost Received counts */
    }
    return -1;
}

/* A date of RFC 5322 (day name optional, zone +hhmm), or -1. */
static long long
date_parse(const char *s)
{
    static const char *const mon[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                      "jul", "aug", "sep", "oct", "nov", "dec"};
    int d, y, hh, mm, ss = 0, zone = 0, m = -1, used = 0;
    char mname[4] = "", zs[8] = "";
    const char *comma = strchr(s, ',');
    long long t;

    if (comma != NULL && comma - s < 12)
        s = comma + 1;
    while (*s == ' ')
        s++;
    if (sscanf(s, "%d %3s %d %d:%d:%d %7s%n", &d, mname, &y, &hh, &mm, &ss, zs,
               &used) < 6 &&
        sscanf(s, "%d %3s %d %d:%d %7s", &d, mname, &y, &hh, &mm, zs) < 5)
        return -1;
    for (int i = 0; i < 12; i++)
        if (strncasecmp(mname, mon[i], 3) == 0)
            m = i;
    if (m < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || hh > 23 ||
        mm > 59 || ss > 60)
        return -1;
    if ((zs[0] == '+' || zs[0] == '-') && isdigit((unsigned char)zs[1]) &&
        strlen(zs) == 5) {
        int z = atoi(zs + 1);

        zone = (z / 100) * 3600 + (z % 100) * 60;
        if (zs[0] == '-')
            zone = -zone;
    }
    {
        /* days from the civil date (H. Hinnant's algorithm), no timegm() */
        long long yy = y - (m < 2), era = (yy >= 0 ? yy : yy - 399) / 400;
        long long yoe = yy - era * 400;
        long long mp = (m + 10) % 12;
        long long doy = (153 * mp + 2) / 5 + d - 1;
        long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        long long days = era * 146097 + doe - 719468;

        t = days * 86400 + hh * 3600 + mm * 60 + ss;
    }
    return t - zone;
}

/* Seconds from the copy's Date: to the topmost Received: date. */
static bool
copy_latency(const char *hdr, size_t len, double *out)
{
    char *date = hdr_get(hdr, len, "Date");
    char *recv = hdr_get(hdr, len, "Received");
    const char *semi = recv ? strrchr(recv, ';') : NULL;
    long long a, b;
    bool ok = false;

    if (date != NULL && semi != NULL) {
        a = date_parse(date);
        b = date_parse(semi + 1);
        if (a >= 0 && b >= 0 && b - a > -300 && b - a < 86400 * 7) {
            *out = (double)(b > a ? b - a : 0);
            ok = true;
        }
    }
    free(date);
    free(recv);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Authentication-Results                                              */

/* Authentication-Results fields in the header of msg (as sent). */
static size_t
count_authres(const char *msg, size_t len)
{
    const char *np, *vp;
    size_t nlen, vlen, off = 0, k = 0, n = 0;

    while (k++ < VERDICT_MAX_FIELDS &&
           hdr_next(msg, len, &off, &np, &nlen, &vp, &vlen) == 0)
        n += name_is(np, nlen, "Authentication-Results");
    return n;
}

static void
auth_parse(struct verdict_auth *au, const char *hdr, size_t len,
           const struct mailbox *mb, size_t nsent)
{
    const char *np, *vp;
    size_t nlen, vlen, off = 0, k = 0;
    const char *pats[MAILBOX_LIMIT_NAMES];
    size_t npats = 0;

    memset(au, 0, sizeof(*au));
    au->fields = pb_xcalloc(VERDICT_MAX_AUTHRES, sizeof(*au->fields));
    au->trust = pb_xcalloc(VERDICT_MAX_AUTHRES, sizeof(*au->trust));
    while (k++ < VERDICT_MAX_FIELDS && au->n < VERDICT_MAX_AUTHRES &&
           hdr_next(hdr, len, &off, &np, &nlen, &vp, &vlen) == 0) {
        struct pb_err err;

        if (!name_is(np, nlen, "Authentication-Results"))
            continue;
        if (authres_parse(vp, vlen, &au->fields[au->n], &err) < 0) {
            authres_release(&au->fields[au->n]);
            memset(&au->fields[au->n], 0, sizeof(au->fields[0]));
            continue;
        }
        au->n++;
    }
    for (size_t i = 0; mb != NULL && i < mb->nauthserv_ids; i++)
        pats[npats++] = mb->authserv_ids[i];
    au->nsent = nsent < au->n ? nsent : au->n;
    au->ntrusted = authres_trust_pick(au->fields, au->n - au->nsent, pats,
                                      npats, au->trust, &au->first);
    for (size_t i = au->n - au->nsent; i < au->n; i++)
        au->trust[i] = AUTHRES_UNTRUSTED_BELOW;
    au->nforeign = au->n - au->ntrusted;
    if (au->ntrusted > 0) {
        const struct authres *t = &au->fields[au->first];

        au->spf = authres_find_in(t, au->ntrusted, "spf");
        au->dkim = authres_find_in(t, au->ntrusted, "dkim");
        au->dmarc = authres_find_in(t, au->ntrusted, "dmarc");
        au->arc = authres_find_in(t, au->ntrusted, "arc");
        au->iprev = authres_find_in(t, au->ntrusted, "iprev");
    }
}

static void
auth_release(struct verdict_auth *au)
{
    for (size_t i = 0; i < au->n; i++)
        authres_release(&au->fields[i]);
    free(au->fields);
    free(au->trust);
    memset(au, 0, sizeof(*au));
}

static bool
ar_failed(const struct authres_result *r)
{
    return r != NULL &&
           (r->status == AUTHRES_FAIL || r->status == AUTHRES_SOFTFAIL ||
            r->status == AUTHRES_PERMERROR || r->status == AUTHRES_NONE);
}

static bool
ar_passed(const struct authres_result *r)
{
    return r != NULL && r->status == AUTHRES_PASS;
}

static const char *
ar_word(const struct authres_result *r)
{
    return r ? authres_status_name(r->status) : "-";
}

/* ------------------------------------------------------------------ */
/* Verdicts                                                            */

static void __attribute__((format(printf, 2, 3)))
evidence(struct seed_verdict *v, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (v->nevidence == VERDICT_MAX_EVIDENCE)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    v->evidence[v->nevidence++] = pb_xstrdup(buf);
}

static void
set_category(struct seed_verdict *v, enum reject_category c,
             enum reject_confidence conf, const char *rule,
             const char *explanation, const char *remedy)
{
    v->has_category = true;
    v->rv.category = c;
    v->rv.confidence = conf;
    snprintf(v->rv.rule, sizeof(v->rv.rule), "%s", rule);
    snprintf(v->rv.explanation, sizeof(v->rv.explanation), "%s", explanation);
    snprintf(v->rv.remedy, sizeof(v->rv.remedy), "%s", remedy);
    v->rv.source[0] = '\0';
}

/* A refusal in the SMTP session with the relay. */
static void
judge_session(struct seed_verdict *v, const struct send_run *run,
              const struct smtp_job *j, const struct reject_rules *rules)
{
    struct reject_input in = {0};

    v->stage = j->err.stage;
    v->code = j->err.reply;
    snprintf(v->status, sizeof(v->status), "%s", j->err.status);
    if (j->err.reply == 0) {
        v->outcome = VERDICT_ERROR;
        snprintf(v->summary, sizeof(v->summary), "%s at %s: %s",
                 j->outcome == SMTP_FAILED ? "failed" : "refused",
                 pb_stage_name(j->err.stage), j->err.msg);
        return;
    }
    v->outcome =
        j->outcome == SMTP_DEFERRED ? VERDICT_DEFERRED : VERDICT_REJECTED;
    v->reply = pb_xstrdup(j->err.evidence);
    in.stage = j->err.stage;
    in.code = j->err.reply;
    in.status = j->err.status[0] ? j->err.status : NULL;
    in.text = j->err.evidence;
    in.text_len = strlen(j->err.evidence);
    in.host = run->profile->host;
    reject_classify(rules, &in, &v->rv);
    v->has_category = true;
    snprintf(v->summary, sizeof(v->summary), "the relay %s it at %s: %d %.250s",
             v->outcome == VERDICT_DEFERRED ? "deferred" : "refused",
             pb_stage_name(in.stage), in.code, j->err.evidence);
}

static void
judge_bounce(struct seed_verdict *v, const struct collect_seed *cs)
{
    const struct collect_bounce *b = &cs->bounce;
    const struct explain_item *it;

    v->outcome = b->is_delayed ? VERDICT_DEFERRED : VERDICT_BOUNCED;
    if (b->item >= b->ex.n) {
        snprintf(v->summary, sizeof(v->summary),
                 "a bounce names this message but no failed recipient");
        set_category(v, REJECT_POLICY_OTHER, REJECT_CONF_LOW, "",
                     "The bounce names no failed recipient.",
                     "Read the bounce itself (--json has it).");
        return;
    }
    it = &b->ex.items[b->item];
    v->rv = it->verdict;
    v->has_category = true;
    v->stage = it->stage;
    v->code = it->code;
    snprintf(v->status, sizeof(v->status), "%s", it->status);
    v->reply = it->text ? pb_xstrdup(it->text) : NULL;
    v->reporting_mta = it->remote_mta ? pb_xstrdup(it->remote_mta) : NULL;
    {
        char code[8] = "";
        const char *text = it->text ? it->text : "";

        /* the text of a Diagnostic-Code usually starts with its code */
        if (it->code != 0 && strtol(text, NULL, 10) != it->code)
            snprintf(code, sizeof(code), "%d ", it->code);
        snprintf(v->summary, sizeof(v->summary), "%s %.120s: %s%.180s",
                 b->is_delayed ? "delayed by" : "bounced by",
                 it->remote_mta ? it->remote_mta : "the receiver", code, text);
    }
}

static void
judge_copy(struct seed_verdict *v, const struct collect_seed *cs,
           const struct send_item *it)
{
    struct verdict_auth *au = &v->auth;
    const char *folder = cs->copy.folder ? cs->copy.folder : "?";
    char *ffolder = report_escape(folder);

    v->outcome = cs->copy.is_junk ? VERDICT_SPAM : VERDICT_INBOX;
    auth_parse(au, cs->copy.header, cs->copy.header_len, cs->mb,
               count_authres(it->msg, it->msg_len));
    v->has_latency =
        copy_latency(cs->copy.header, cs->copy.header_len, &v->latency_s);
    verdict_received_ip(cs->copy.header, cs->copy.header_len, v->egress_ip,
                        v->received_by, sizeof(v->received_by));
    if (au->nsent > 0)
        evidence(v,
                 "%zu Authentication-Results field(s) were in the message as "
                 "sent and are not believed, whatever they claim",
                 au->nsent);
    if (au->nforeign > au->nsent)
        evidence(v,
                 "%zu Authentication-Results field(s) not believed: their "
                 "authserv-id is not the receiver's, or they sit below its "
                 "own (RFC 8601 section 5)",
                 au->nforeign - au->nsent);
    if (au->ntrusted == 0) {
        snprintf(v->summary, sizeof(v->summary),
                 "in %s; no Authentication-Results from the receiver%s",
                 ffolder,
                 cs->mb && cs->mb->nauthserv_ids == 0
                     ? " (no authserv-id known: set authserv_id=)"
                     : "");
        v->is_clean = false;
        if (v->outcome == VERDICT_SPAM)
            set_category(v, REJECT_POLICY_OTHER, REJECT_CONF_LOW, "",
                         "Filed as spam; the receiver's own results are not "
                         "available, so the cause is not known.",
                         "Check SPF, DKIM and DMARC with `probe check`, then "
                         "content and reputation.");
        free(ffolder);
        return;
    }
    evidence(v,
             "the receiver's Authentication-Results: spf=%s dkim=%s "
             "dmarc=%s",
             ar_word(au->spf), ar_word(au->dkim), ar_word(au->dmarc));
    v->is_clean =
        ar_passed(au->dmarc) ||
        (au->dmarc == NULL && ar_passed(au->spf) && ar_passed(au->dkim));
    if (ar_failed(au->dmarc) && au->dmarc->status != AUTHRES_NONE) {
        set_category(
            v, REJECT_DMARC, REJECT_CONF_HIGH, "authentication-results",
            "The receiver's own Authentication-Results say DMARC failed: "
            "neither SPF nor DKIM passed aligned with the From domain.",
            "Align SPF or DKIM with the From domain: sign with DKIM d= the "
            "From domain, or send with a MAIL FROM in that domain whose SPF "
            "passes.");
    } else if (ar_failed(au->dkim) && au->dkim->status != AUTHRES_NONE) {
        set_category(v, REJECT_DKIM, REJECT_CONF_HIGH, "authentication-results",
                     "The receiver's own Authentication-Results say DKIM "
                     "failed.",
                     "Publish the public key of the signing key at "
                     "SELECTOR._domainkey.DOMAIN and make sure nothing "
                     "changes the message after signing.");
    } else if (ar_failed(au->spf) && au->spf->status != AUTHRES_NONE) {
        set_category(v, REJECT_SPF, REJECT_CONF_HIGH, "authentication-results",
                     "The receiver's own Authentication-Results say SPF "
                     "failed for the sending IP.",
                     "Authorize the relay's sending IPs in the SPF record of "
                     "the envelope sender domain (or include the ESP's), "
                     "staying under 10 DNS lookups.");
    } else if (v->outcome == VERDICT_SPAM) {
        set_category(v, REJECT_CONTENT, REJECT_CONF_LOW, "",
                     "Filed as spam although authentication passed: content "
                     "or reputation, which the receiver does not name.",
                     "Look at the content (links, images, wording) and the "
                     "sending domain's and IP's reputation (Postmaster "
                     "Tools, SNDS).");
    }
    snprintf(v->summary, sizeof(v->summary), "%s %s: spf=%s dkim=%s dmarc=%s",
             v->outcome == VERDICT_SPAM ? "filed as spam in" : "delivered to",
             ffolder, ar_word(au->spf), ar_word(au->dkim), ar_word(au->dmarc));
    free(ffolder);
}

/* ------------------------------------------------------------------ */
/* Correlation                                                         */

static bool
is_generic(const struct seed_verdict *v)
{
    return v->has_category && (v->rv.category == REJECT_POLICY_OTHER ||
                               v->rv.category == REJECT_AUTH_MULTIPLE ||
                               v->rv.confidence == REJECT_CONF_LOW);
}

/* d is the From domain or under the same organizational domain. */
static bool
aligned(const char *d, const char *from, const char *org)
{
    size_t nd, no;

    if (d == NULL || from == NULL || d[0] == '\0')
        return false;
    if (strcasecmp(d, from) == 0)
        return true;
    if (org == NULL)
        return false;
    nd = strlen(d);
    no = strlen(org);
    return (strcasecmp(d, org) == 0 || (nd > no && d[nd - no - 1] == '.' &&
                                        strcasecmp(d + nd - no, org) == 0));
}

static void
correlate(struct seed_verdict *v, struct run_verdicts *rv,
          const struct send_run *run)
{
    const char *from_dom = pb_addr_domain(run->opts->from);
    const char *org = rv->has_audit ? rv->audit.dmarc.org_domain_psl : NULL;
    const struct dkim_verify_result *sig = NULL;
    bool dkim_aligned_pass = false, spf_aligned_pass = false;
    enum spf_result spf = SPF_NONE;
    char why[512];

    if (rv->has_self_dkim) {
        for (size_t i = 0; i < rv->self_dkim.nresults; i++) {
            const struct dkim_verify_result *r = &rv->self_dkim.results[i];

            if (!aligned(r->header_d, from_dom, org))
                continue;
            if (sig == NULL || r->status == DKIM_VERIFY_PASS)
                sig = r;
            if (r->status == DKIM_VERIFY_PASS)
                dkim_aligned_pass = true;
        }
    }
    if (rv->has_spf_mfrom) {
        spf = rv->spf_mfrom.result;
        spf_aligned_pass =
            spf == SPF_PASS && aligned(rv->mfrom_domain, from_dom, org);
    }

    /* a DMARC refusal: was it the DKIM key? */
    if (v->rv.category == REJECT_DMARC) {
        if (sig != NULL && !dkim_aligned_pass) {
            snprintf(why, sizeof(why),
                     "the message's DKIM signature d=%.60s s=%.40s does not "
                     "verify against the key in DNS: %.150s",
                     sig->d, sig->s, sig->why);
            evidence(v, "%s", why);
            set_category(v, REJECT_DKIM, REJECT_CONF_MEDIUM, "correlation",
                         "The receiver applied the DMARC policy, and the "
                         "aligned DKIM signature this message carried does "
                         "not verify, so DKIM is what failed.",
                         "Publish the public key of the key you sign with at "
                         "SELECTOR._domainkey.DOMAIN (or sign with the key "
                         "that is published); `probe check DOMAIN --selector "
                         "SEL` shows the record.");
        } else if (sig == NULL) {
            evidence(v,
                     "the message carried no DKIM signature aligned with "
                     "%s",
                     from_dom ? from_dom : "the From domain");
        }
        if (rv->has_spf_mfrom && !spf_aligned_pass)
            evidence(v, "SPF for the envelope domain %s is %s for %s%s",
                     rv->mfrom_domain, spf_result_name(spf), rv->egress_ip,
                     aligned(rv->mfrom_domain, from_dom, org)
                         ? ""
                         : ", and that domain is not aligned with From");
        return;
    }
    if (!is_generic(v))
        return;
    if (rv->has_spf_mfrom && (spf == SPF_FAIL || spf == SPF_SOFTFAIL)) {
        snprintf(why, sizeof(why),
                 "SPF for %.80s does not authorize %.46s, which is where "
                 "the relay sends from (%.100s): %s",
                 rv->mfrom_domain, rv->egress_ip, rv->egress_source,
                 spf_result_name(spf));
        evidence(v, "%s", why);
        set_category(v, REJECT_SPF, REJECT_CONF_MEDIUM, "correlation",
                     "The reply names no check, but SPF fails for the relay's "
                     "sending IP, and nothing else in the DNS audit does.",
                     "");
        snprintf(v->rv.remedy, sizeof(v->rv.remedy),
                 "Add the relay's sending IP to the SPF record of %.80s "
                 "(ip4:%.46s, or the relay's include:), staying under 10 DNS "
                 "lookups; `probe check %.80s --ip %.46s` confirms it.",
                 rv->mfrom_domain, rv->egress_ip, rv->mfrom_domain,
                 rv->egress_ip);
        return;
    }
    if (sig != NULL && !dkim_aligned_pass) {
        evidence(v, "the DKIM signature d=%s s=%s does not verify: %s", sig->d,
                 sig->s, sig->why);
        set_category(v, REJECT_DKIM, REJECT_CONF_MEDIUM, "correlation",
                     "The reply names no check, but the DKIM signature the "
                     "message carried does not verify against DNS.",
                     "Publish the public key of the signing key at "
                     "SELECTOR._domainkey.DOMAIN, or sign with the key that "
                     "is published.");
        return;
    }
    if (rv->has_audit && rv->audit.dmarc.has_record && !dkim_aligned_pass &&
        !spf_aligned_pass && (rv->has_self_dkim || rv->has_spf_mfrom)) {
        evidence(v,
                 "neither SPF nor DKIM pass aligned with %s, whose DMARC "
                 "record asks receivers to act on failures",
                 from_dom ? from_dom : "the From domain");
        set_category(v, REJECT_DMARC, REJECT_CONF_MEDIUM, "correlation",
                     "The reply names no check, but DMARC fails: neither "
                     "SPF nor DKIM passes aligned with the From domain.",
                     "Sign with DKIM d= the From domain, or send with a MAIL "
                     "FROM in that domain whose SPF passes.");
        return;
    }
    if (rv->has_audit && rv->audit.ptr.nips > 0 &&
        !rv->audit.ptr.ips[0].is_confirmed) {
        evidence(v,
                 "the sending IP %s has no forward-confirmed reverse DNS "
                 "(PTR %s)",
                 rv->egress_ip, rv->audit.ptr.ips[0].lookup);
        set_category(v, REJECT_PTR, REJECT_CONF_MEDIUM, "correlation",
                     "The reply names no check, but the sending IP has no "
                     "forward-confirmed reverse DNS.",
                     "Ask the relay's operator for a PTR record for the "
                     "sending IP whose name resolves back to it.");
        return;
    }
    /* what other seeds' receivers said about the same message */
    for (size_t i = 0; i < rv->n; i++) {
        const struct verdict_auth *au = &rv->v[i].auth;

        if (&rv->v[i] == v || au->ntrusted == 0)
            continue;
        if (ar_failed(au->spf) && au->spf->status != AUTHRES_NONE) {
            evidence(v,
                     "another seed's receiver wrote spf=%s for the same "
                     "message",
                     ar_word(au->spf));
            set_category(v, REJECT_SPF, REJECT_CONF_MEDIUM, "correlation",
                         "The reply names no check, but another receiver "
                         "saw SPF fail for the same message.",
                         "Authorize the relay's sending IPs in the SPF "
                         "record of the envelope sender domain.");
            return;
        }
    }
    if (rv->egress_ip[0] != '\0')
        evidence(v, "the DNS audit of %s for %s finds no failing check",
                 from_dom ? from_dom : "the From domain", rv->egress_ip);
}

/* The egress IP: --egress-ip, a copy's topmost Received, a bounce's. */
static void
egress_find(struct run_verdicts *rv, const struct collect *col, const char *opt)
{
    if (opt != NULL) {
        snprintf(rv->egress_ip, sizeof(rv->egress_ip), "%s", opt);
        snprintf(rv->egress_source, sizeof(rv->egress_source), "--egress-ip");
        return;
    }
    for (size_t i = 0; i < col->n; i++)
        if (rv->v[i].egress_ip[0] != '\0') {
            snprintf(rv->egress_ip, sizeof(rv->egress_ip), "%s",
                     rv->v[i].egress_ip);
            snprintf(rv->egress_source, sizeof(rv->egress_source),
                     "the Received header %.60s wrote on the copy for "
                     "%.80s",
                     rv->v[i].received_by[0] ? rv->v[i].received_by
                                             : "the receiver",
                     col->seeds[i].address);
            return;
        }
    /* a receiver's refusal often names the client: "[192.0.2.1]" */
    for (size_t i = 0; i < col->n; i++) {
        const struct seed_verdict *v = &rv->v[i];

        if (v->outcome != VERDICT_BOUNCED || v->reply == NULL ||
            !bracket_ip(v->reply, strlen(v->reply), rv->egress_ip))
            continue;
        snprintf(rv->egress_source, sizeof(rv->egress_source),
                 "the refusal %.80s sent for %.80s",
                 v->reporting_mta ? v->reporting_mta : "the receiver",
                 col->seeds[i].address);
        return;
    }
    for (size_t i = 0; i < col->n; i++) {
        const struct collect_bounce *b = &col->seeds[i].bounce;
        char by[128];

        if (!b->is_found || b->raw == NULL)
            continue;
        if (verdict_received_ip(b->raw, b->raw_len, rv->egress_ip, by,
                                sizeof(by)) == 0) {
            snprintf(rv->egress_source, sizeof(rv->egress_source),
                     "the Received header %.60s wrote on the relay's bounce",
                     by[0] ? by : "the bounce mailbox's receiver");
            return;
        }
    }
}

static void
audit_run(struct run_verdicts *rv, const struct send_run *run,
          struct dns_resolver *r)
{
    const char *from_dom = pb_addr_domain(run->opts->from);
    const char *mfrom = run->items[0].job.mail_from;
    const char *sels[PB_LIMIT_DKIM_SIGNATURES];
    struct check_request req = {0};
    struct ipaddr ip;
    bool has_ip =
        rv->egress_ip[0] != '\0' && ipaddr_parse(rv->egress_ip, &ip) == 0;
    struct pb_err err;

    if (from_dom == NULL)
        return;
    for (size_t i = 0; i < run->opts->ndkim; i++)
        sels[i] = run->opts->dkim[i].selector;
    req.domain = from_dom;
    req.ips = has_ip ? &ip : NULL;
    req.nips = has_ip ? 1 : 0;
    req.selectors = sels;
    req.nselectors = run->opts->ndkim;
    req.checks = CHECK_SPF | CHECK_DMARC | (has_ip ? CHECK_PTR : 0) |
                 (run->opts->ndkim ? CHECK_DKIM : 0);
    check_run(r, &req, &rv->audit);
    rv->has_audit = true;

    if (has_ip && mfrom != NULL && mfrom[0] != '\0') {
        struct spf_request sr = {0};
        const char *md = pb_addr_domain(mfrom);

        sr.ip = ip;
        sr.sender = mfrom;
        snprintf(rv->mfrom_domain, sizeof(rv->mfrom_domain), "%s",
                 md ? md : "");
        pb_err_clear(&err);
        if (spf_check_host(r, &sr, &rv->spf_mfrom, &err) == 0)
            rv->has_spf_mfrom = true;
        else
            spf_check_release(&rv->spf_mfrom);
    }
    if (run->opts->ndkim > 0 && run->nitems > 0) {
        pb_err_clear(&err);
        if (dkim_verify_message(r, run->items[0].msg, run->items[0].msg_len, 0,
                                &rv->self_dkim, &err) == 0)
            rv->has_self_dkim = true;
        else
            dkim_verify_release(&rv->self_dkim);
    }
}

static bool
needs_correlation(const struct seed_verdict *v)
{
    return (v->outcome == VERDICT_BOUNCED || v->outcome == VERDICT_REJECTED) &&
           v->has_category && (is_generic(v) || v->rv.category == REJECT_DMARC);
}

void
verdicts_build(struct run_verdicts *rv, const struct send_run *run,
               const struct collect *col, const struct reject_rules *rules,
               struct dns_resolver *r, const char *egress)
{
    bool wants = false;

    memset(rv, 0, sizeof(*rv));
    rv->n = run->nitems;
    rv->v = pb_xcalloc(rv->n ? rv->n : 1, sizeof(*rv->v));
    for (size_t i = 0; i < rv->n; i++) {
        struct seed_verdict *v = &rv->v[i];
        const struct smtp_job *j = &run->items[i].job;
        const struct collect_seed *cs = &col->seeds[i];
        char *addr;

        v->stage = j->stage;
        if (j->outcome != SMTP_ACCEPTED) {
            judge_session(v, run, j, rules);
        } else if (cs->copy.is_found) {
            judge_copy(v, cs, &run->items[i]);
        } else if (cs->bounce.is_found) {
            judge_bounce(v, cs);
        } else if (cs->has_mailbox_error) {
            v->outcome = VERDICT_ERROR;
            snprintf(v->summary, sizeof(v->summary),
                     "the relay accepted it, but the mailbox could not be "
                     "read: %s",
                     cs->mailbox_err.msg);
            if (cs->mailbox_err.evidence[0] != '\0')
                evidence(v, "the IMAP server said: %s",
                         cs->mailbox_err.evidence);
        } else if (cs->mb != NULL) {
            v->outcome = VERDICT_MISSING;
            addr = report_escape(cs->mb->inbox);
            snprintf(v->summary, sizeof(v->summary),
                     "accepted by the relay, but not in %s%s%s and no "
                     "bounce within the wait",
                     addr, cs->junk_note[0] ? "" : " or the spam folder",
                     col->bounce_mb ? "" : " (no bounce mailbox read)");
            free(addr);
            if (cs->junk_note[0] != '\0')
                evidence(v, "%s", cs->junk_note);
        } else {
            v->outcome = VERDICT_ACCEPTED;
            snprintf(v->summary, sizeof(v->summary),
                     "accepted by the relay: %d %.200s%s", j->final_code,
                     j->final_text,
                     col->bounce_mb ? "; no bounce within the wait"
                                    : " (send only)");
        }
        if (needs_correlation(v))
            wants = true;
    }
    egress_find(rv, col, egress);
    if (wants && r != NULL) {
        audit_run(rv, run, r);
        for (size_t i = 0; i < rv->n; i++)
            if (needs_correlation(&rv->v[i]))
                correlate(&rv->v[i], rv, run);
    }
    for (size_t i = 0; i < rv->n; i++)
        rv->counts[rv->v[i].outcome]++;
}

int
verdicts_exit_code(const struct run_verdicts *rv)
{
    int code = 0;

    for (size_t i = 0; i < rv->n; i++) {
        const struct seed_verdict *v = &rv->v[i];

        switch (v->outcome) {
        case VERDICT_REJECTED:
        case VERDICT_BOUNCED:
        case VERDICT_MISSING:
        case VERDICT_ERROR:
            return 2;
        case VERDICT_SPAM:
        case VERDICT_DEFERRED:
            code = 1;
            break;
        case VERDICT_INBOX:
            if (!v->is_clean)
                code = 1;
            break;
        default:
            break;
        }
    }
    return code;
}

void
verdicts_release(struct run_verdicts *rv)
{
    for (size_t i = 0; i < rv->n; i++) {
        struct seed_verdict *v = &rv->v[i];

        free(v->reply);
        free(v->reporting_mta);
        for (size_t k = 0; k < v->nevidence; k++)
            free(v->evidence[k]);
        auth_release(&v->auth);
    }
    free(rv->v);
    if (rv->has_audit)
        check_result_release(&rv->audit);
    if (rv->has_spf_mfrom)
        spf_check_release(&rv->spf_mfrom);
    if (rv->has_self_dkim)
        dkim_verify_release(&rv->self_dkim);
    memset(rv, 0, sizeof(*rv));
}
