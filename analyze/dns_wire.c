/* SPDX-License-Identifier: MIT */
/*
 * A pure, bounded parser of DNS response messages: RFC 1035 §4.1.1 header,
 * §4.1.2 question, §4.1.3 answer records, §4.1.4 name compression, §3.3
 * and RFC 3596 RDATA of A, AAAA, CNAME, PTR, NS, MX, TXT and SPF (RFC 7208
 * §14.1).  Other types, other classes and the authority and additional
 * sections are skipped; building queries is left to c-ares.
 */
#include "analyze.h"

#include <stdlib.h>
#include <string.h>

#include "dns_int.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

#define DNS_CLASS_IN 1

/* A cursor over the message; once err is set every step does nothing. */
struct wire_cur {
    const unsigned char *msg;
    size_t len;
    size_t off;
    const char *err;
};

static void
wire_cur_need(struct wire_cur *c, size_t n, const char *why)
{
    if (c->err == NULL && n > c->len - c->off)
        c->err = why;
}

static uint16_t
wire_cur_u16(struct wire_cur *c, const char *why)
{
    uint16_t v;

    wire_cur_need(c, 2, why);
    if (c->err != NULL)
        return 0;
    v = (uint16_t)(c->msg[c->off] << 8 | c->msg[c->off + 1]);
    c->off += 2;
    return v;
}

static void
wire_cur_skip(struct wire_cur *c, size_t n, const char *why)
{
    wire_cur_need(c, n, why);
    if (c->err == NULL)
        c->off += n;
}

static void
wire_cur_name(struct wire_cur *c, char out[DNS_NAME_TEXT_MAX])
{
    out[0] = '\0';
    if (c->err == NULL)
        dns_wire_name_read(c->msg, c->len, &c->off, out, &c->err);
}

/*
 * Names come out as text: labels joined by ".", ASCII letters lower-cased,
 * no trailing dot, the root as "".  Label bytes are kept as they are, but
 * a NUL or a "." inside a label, which the text form cannot carry, become
 * the RFC 1035 §5.1 escapes "\000" and "\046".
 */
int
dns_wire_name_read(const unsigned char *msg, size_t len, size_t *off,
                   char out[DNS_NAME_TEXT_MAX], const char **why)
{
    size_t pos = *off, limit = *off, after = 0, wire = 1, o = 0, i;
    bool has_jumped = false;

    out[0] = '\0';
    for (;;) {
        unsigned c;

        if (pos >= len) {
            *why = "name runs past the end of the message";
            return -1;
        }
        c = msg[pos];
        if (c == 0) {
            pos++;
            break;
        }
        if ((c & 0xc0) == 0xc0) {
            size_t target;

            if (pos + 1 >= len) {
                *why = "compression pointer runs past the end";
                return -1;
            }
            target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
            /*
             * RFC 1035 §4.1.4 points to a prior occurrence of a name.
             * Demand that each jump lands before where the previous
             * one did: jumps then strictly decrease and cannot loop.
             */
            if (target >= limit) {
                *why = "compression pointer does not point backwards";
                return -1;
            }
            if (!has_jumped)
                after = pos + 2;
            has_jumped = true;
            limit = target;
            pos = target;
            continue;
        }
        if ((c & 0xc0) != 0) {
            /* RFC 6891 §5: extended label types are not to be used. */
            *why = "unknown label type";
            return -1;
        }
        /* RFC 1035 §2.3.4: at most 255 octets, length octets included. */
        wire += 1 + c;
        if (wire > 255) {
            *why = "name longer than 255 octets";
            return -1;
        }
        if (c > len - pos - 1) {
            *why = "label runs past the end of the message";
            return -1;
        }
        if (o > 0)
            out[o++] = '.';
        for (i = 0; i < c; i++) {
            unsigned char b = msg[pos + 1 + i];

            if (b == '\0' || b == '.') {
                out[o++] = '\\';
                out[o++] = '0';
                out[o++] = b == '.' ? '4' : '0';
                out[o++] = b == '.' ? '6' : '0';
            } else {
                out[o++] = (char)(b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
            }
        }
        out[o] = '\0';
        pos += 1 + c;
    }
    *off = has_jumped ? after : pos;
    return 0;
}

/*
 * RFC 1035 §3.3.14: one or more <character-string>s filling the RDATA.
 * Deliberately lenient: a record with none (RDLENGTH 0) is an empty record
 * (nstr 0), not an error that would hide the rest of the RRset; the SPF
 * test suite has one ("null-text").
 */
static void
wire_parse_txt(struct wire_cur *c, size_t end, struct dns_rr *rr)
{
    size_t pos, n = 0, total = 0;

    for (pos = c->off; pos < end; pos += 1 + c->msg[pos]) {
        if (c->msg[pos] > end - pos - 1) {
            c->err = "character-string runs past its record";
            return;
        }
        n++;
        total += c->msg[pos];
    }
    rr->data = pb_xmalloc(total + 1);
    rr->strlens = pb_xreallocarray(NULL, n, sizeof(*rr->strlens));
    rr->nstr = n;
    n = 0;
    for (pos = c->off; pos < end; pos += 1 + c->msg[pos]) {
        memcpy(rr->data + rr->len, c->msg + pos + 1, c->msg[pos]);
        rr->len += c->msg[pos];
        rr->strlens[n++] = c->msg[pos];
    }
    rr->data[rr->len] = '\0';
    c->off = end;
}

/*
 * Parse the RDATA of one record of a type we know, ending exactly at end.
 * Domain names in RDATA may be compressed (RFC 3597 §4 allows it for the
 * RFC 1035 types only, which are the ones here with names).
 */
static void
wire_parse_rdata(struct wire_cur *c, size_t end, struct dns_rr *rr)
{
    char name[DNS_NAME_TEXT_MAX];
    size_t rdlen = end - c->off;

    switch (rr->type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA: {
        size_t want = rr->type == DNS_TYPE_A ? 4 : 16;

        if (rdlen != want) {
            c->err = "address record of the wrong length";
            return;
        }
        memcpy(rr->addr, c->msg + c->off, want);
        c->off = end;
        return;
    }
    case DNS_TYPE_MX:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
    case DNS_TYPE_NS:
        if (rr->type == DNS_TYPE_MX)
            rr->pref = wire_cur_u16(c, "MX record shorter than 3 octets");
        wire_cur_name(c, name);
        if (c->err == NULL && c->off != end)
            c->err = "name does not fill its record";
        if (c->err == NULL) {
            rr->data = pb_xstrdup(name);
            rr->len = strlen(name);
        }
        return;
    case DNS_TYPE_TXT:
    case DNS_TYPE_SPF:
        wire_parse_txt(c, end, rr);
        return;
    default:
        c->off = end;
        return;
    }
}

/* Parse the answer section into rrs (records of known types only). */
static void
wire_parse_answers(struct wire_cur *c, unsigned ancount, struct dns_rr *rrs,
                   size_t *nrrs)
{
    char owner[DNS_NAME_TEXT_MAX];
    unsigned i;

    for (i = 0; i < ancount && c->err == NULL; i++) {
        uint16_t type, klass, rdlen;
        struct dns_rr *rr = &rrs[*nrrs];
        size_t end;

        wire_cur_name(c, owner);
        type = wire_cur_u16(c, "record header runs past the end");
        klass = wire_cur_u16(c, "record header runs past the end");
        wire_cur_skip(c, 4, "record header runs past the end"); /* TTL */
        rdlen = wire_cur_u16(c, "record header runs past the end");
        wire_cur_need(c, rdlen, "record data runs past the end");
        if (c->err != NULL)
            return;
        end = c->off + rdlen;
        if (klass != DNS_CLASS_IN || !dns_type_is_supported(type)) {
            c->off = end;
            continue;
        }
        memset(rr, 0, sizeof(*rr));
        rr->type = type;
        wire_parse_rdata(c, end, rr);
        if (c->err != NULL) {
            dns_rr_release(rr);
            return;
        }
        rr->owner = pb_xstrdup(owner);
        (*nrrs)++;
    }
}

/* Move rrs[i] to the end of a's records. */
static void
wire_take_rr(struct dns_answer *a, struct dns_rr *rrs, size_t i)
{
    a->rr[a->nrr++] = rrs[i];
    memset(&rrs[i], 0, sizeof(rrs[i]));
}

/*
 * Keep what answers the question: follow the CNAME chain from qname in the
 * answer section, then take the asked type at the chain's end.  Records
 * about other names are dropped, as a resolver drops out-of-chain data.
 */
static int
wire_select(struct dns_answer *a, struct dns_rr *rrs, size_t n)
{
    const char *cur = a->qname;
    size_t i, k;
    bool is_moved;

    a->rr = pb_xreallocarray(NULL, n + 1, sizeof(*a->rr));
    do {
        is_moved = false;
        if (a->qtype == DNS_TYPE_CNAME)
            break;
        for (i = 0; i < n; i++) {
            if (rrs[i].type != DNS_TYPE_CNAME || rrs[i].owner == NULL ||
                strcmp(rrs[i].owner, cur) != 0)
                continue;
            if (strcmp(rrs[i].data, a->qname) == 0)
                return -1;
            for (k = 0; k < a->nrr; k++)
                if (strcmp(rrs[i].data, a->rr[k].owner) == 0)
                    return -1;
            wire_take_rr(a, rrs, i);
            cur = a->rr[a->nrr - 1].data;
            is_moved = true;
            break;
        }
    } while (is_moved);
    for (i = 0; i < n; i++)
        if (rrs[i].owner != NULL && rrs[i].type == a->qtype &&
            strcmp(rrs[i].owner, cur) == 0)
            wire_take_rr(a, rrs, i);
    return 0;
}

int
dns_wire_parse(const void *msg, size_t len, struct dns_answer *a)
{
    struct wire_cur c = {msg, len, 0, NULL};
    char qname[DNS_NAME_TEXT_MAX];
    uint16_t flags, qdcount, ancount, qtype, qclass;
    struct dns_rr *rrs = NULL;
    size_t i, nrrs = 0;
    int rcode, rc = -1;

    dns_answer_clear_rrs(a);
    if (len > PB_LIMIT_DNS_MSG) {
        dns_answer_set(a, DNS_ERROR, -1, "malformed answer: over %d octets",
                       PB_LIMIT_DNS_MSG);
        return -1;
    }
    /* RFC 1035 §4.1.1: ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT. */
    wire_cur_skip(&c, 2, "shorter than its 12-octet header");
    flags = wire_cur_u16(&c, "shorter than its 12-octet header");
    qdcount = wire_cur_u16(&c, "shorter than its 12-octet header");
    ancount = wire_cur_u16(&c, "shorter than its 12-octet header");
    wire_cur_skip(&c, 4, "shorter than its 12-octet header");
    if (c.err != NULL)
        goto out;
    rcode = flags & 0xf;
    if (!(flags & 0x8000))
        c.err = "not a response (QR bit clear)";
    else if ((flags >> 11 & 0xf) != 0)
        c.err = "opcode other than QUERY";
    else if (flags & 0x0200)
        c.err = "truncated (TC bit set)";
    else if (qdcount > 1 ||
             (qdcount == 0 && dns_status_from_rcode(rcode) != DNS_RCODE))
        /* Servers may leave the question out of FORMERR and the like. */
        c.err = "question count other than 1";
    if (c.err == NULL && qdcount == 1) {
        wire_cur_name(&c, qname);
        qtype = wire_cur_u16(&c, "question runs past the end");
        qclass = wire_cur_u16(&c, "question runs past the end");
        if (c.err == NULL && (qtype != a->qtype || qclass != DNS_CLASS_IN ||
                              strcmp(qname, a->qname) != 0))
            c.err = "answers another question";
    }
    if (c.err != NULL)
        goto out;
    dns_answer_set(a, dns_status_from_rcode(rcode), rcode, "%s", "");
    if (a->status == DNS_RCODE) {
        rc = 0;
        goto out;
    }
    /* Input over a limit is rejected, never cut (pb_limits.h). */
    if (ancount > PB_LIMIT_DNS_RRS) {
        dns_answer_set(a, DNS_ERROR, -1,
                       "malformed answer: %u records, over the limit of %d",
                       (unsigned)ancount, PB_LIMIT_DNS_RRS);
        goto out;
    }
    rrs = pb_xreallocarray(NULL, ancount + 1u, sizeof(*rrs));
    wire_parse_answers(&c, ancount, rrs, &nrrs);
    if (c.err != NULL)
        goto out;
    if (wire_select(a, rrs, nrrs) == -1) {
        dns_answer_clear_rrs(a);
        dns_answer_set(a, DNS_ERROR, -1, "malformed answer: CNAME loop");
        goto out;
    }
    rc = 0;
out:
    if (c.err != NULL)
        dns_answer_set(a, DNS_ERROR, -1, "malformed answer: %s", c.err);
    for (i = 0; i < nrrs; i++)
        dns_rr_release(&rrs[i]);
    free(rrs);
    return rc;
}
