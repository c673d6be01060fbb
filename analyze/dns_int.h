/* SPDX-License-Identifier: MIT */
/*
 * Private interface of the DNS files of analyze/: the answer helpers and
 * the (name, type) hash map of dns_query.c, the wire parser, and the two
 * back ends (c-ares, JSON fixture) behind struct dns_backend.
 */
#ifndef PB_ANALYZE_DNS_INT_H
#define PB_ANALYZE_DNS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze.h"
#include "pb_err.h"

/* Defaults of struct dns_options. */
#define DNS_DEFAULT_TIMEOUT_MS 2000
#define DNS_DEFAULT_TRIES      2

/*
 * RFC 6891 §6.2.5 and the DNS Flag Day 2020 advice: advertise 1232 octets
 * so answers up to that size come over UDP without fragmentation; larger
 * ones come back truncated and are asked again over TCP.
 */
#define DNS_EDNS_UDP_SIZE 1232

/*
 * Longest text form of a name we produce: 255 wire octets where a byte may
 * become a 4-byte escape ("\000"), plus the NUL.
 */
#define DNS_NAME_TEXT_MAX (4 * 255 + 1)

/* ------------------------------------------------------------------ */
/* Answers and records (dns_query.c)                                   */

/*
 * Make a an empty answer to (qname, type): qname is copied as given (the
 * caller has lower-cased it), status DNS_ERROR "no answer yet", rcode -1.
 */
void dns_answer_init(struct dns_answer *a, const char *qname, uint16_t type);
/* Free everything a holds and clear it.  a may be cleared already. */
void dns_answer_release(struct dns_answer *a);
/* Drop the records of a (nrr 0), keeping the question. */
void dns_answer_clear_rrs(struct dns_answer *a);
/*
 * Set status, rcode and a detail made from our own format; outside text
 * goes in through "%s" only, escaped.
 */
void dns_answer_set(struct dns_answer *a, enum dns_status status, int rcode,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Append a copy of rr to a's records (owner, data, strlens are copied). */
void dns_answer_add_rr(struct dns_answer *a, const struct dns_rr *rr);

void dns_rr_copy(struct dns_rr *dst, const struct dns_rr *src);
void dns_rr_release(struct dns_rr *rr);

/* DNS_OK for 0, DNS_NXDOMAIN for 3, DNS_RCODE for the rest. */
enum dns_status dns_status_from_rcode(int rcode);
/* The types the parser and the fixture know (A NS CNAME PTR MX TXT AAAA SPF).
 */
bool dns_type_is_supported(uint16_t type);
/* True when a record of this type holds a domain name in data. */
bool dns_type_has_name(uint16_t type);

/*
 * Canonical form of a name given as text: ASCII letters lower-cased, one
 * trailing dot removed.  Writes at most size-1 bytes and a NUL; returns
 * -1 when it does not fit.
 */
int dns_name_canon(const char *name, size_t len, char *out, size_t size);

/* ------------------------------------------------------------------ */
/* A hash map from (name, type) to a pointer (dns_query.c)             */

struct dns_map_slot {
    const char *name; /* borrowed from the value; NULL when the slot is free */
    uint16_t type;
    void *value;
};

struct dns_map {
    struct dns_map_slot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};

void dns_map_init(struct dns_map *m);
/* Frees the table only; values belong to the caller. */
void dns_map_release(struct dns_map *m);
void *dns_map_get(const struct dns_map *m, const char *name, uint16_t type);
/*
 * Add (name, type) -> value; name must stay valid while it is in the map
 * (point it into value).  The key must not be in the map yet.
 */
void dns_map_put(struct dns_map *m, const char *name, uint16_t type,
                 void *value);

/* ------------------------------------------------------------------ */
/* The wire parser (dns_wire.c)                                        */

/*
 * Parse the DNS response (msg, len), untrusted, as the answer to a->qname
 * and a->qtype, set by the caller.  Fills a->status, rcode, detail and the
 * records: CNAMEs of the chain from qname in chain order, then the records
 * of the asked type owned by the chain's end.  Returns 0, or -1 with
 * a->status DNS_ERROR and the reason in a->detail for a malformed message,
 * an answer to another question or more than PB_LIMIT_DNS_RRS records.
 */
int dns_wire_parse(const void *msg, size_t len, struct dns_answer *a);

/*
 * Read the possibly compressed name at *off of message (msg, len) into out
 * as text (see dns_wire.c for the form) and move *off past it.  Returns 0,
 * or -1 with a static reason in *why.
 */
int dns_wire_name_read(const unsigned char *msg, size_t len, size_t *off,
                       char out[DNS_NAME_TEXT_MAX], const char **why);

/* ------------------------------------------------------------------ */
/* Back ends                                                           */

/*
 * A back end answers questions whose names are valid and canonical and
 * whose types are supported.  answer_many fills each a[i] (made with
 * dns_answer_init) and must not fail: every outcome is a status.
 */
struct dns_backend_ops {
    const char *name;
    void (*answer_many)(void *state, struct dns_answer *const *a, size_t n);
    void (*free)(void *state);
};

struct dns_backend {
    const struct dns_backend_ops *ops;
    void *state;
};

/* dns_ares.c: real DNS; PB_E_USAGE for a bad server, PB_E_INTERNAL. */
int dns_ares_new(const struct dns_options *opt, struct dns_backend *out,
                 struct pb_err *err);

/* dns_fixture.c */
struct dns_fixture;

/*
 * Load and check a fixture file, or a fixture held in memory (label names
 * it in messages).  PB_E_IO, PB_E_LIMIT (over PB_LIMIT_FIXTURE_BYTES),
 * PB_E_SYNTAX with "label:line:col: not valid JSON" or
 * "label: .path: expected ...".
 */
int dns_fixture_load(const char *path, struct dns_fixture **out,
                     struct pb_err *err);
int dns_fixture_load_mem(const char *label, const void *p, size_t len,
                         struct dns_fixture **out, struct pb_err *err);
void dns_fixture_free(struct dns_fixture *fx);
/* Answer a (made with dns_answer_init) from the fixture. */
void dns_fixture_answer(const struct dns_fixture *fx, struct dns_answer *a);
/* Wrap a loaded fixture as a back end; the back end owns fx. */
void dns_fixture_backend(struct dns_fixture *fx, struct dns_backend *out);
/* The same, for a fork: fx stays owned by the first back end. */
void dns_fixture_backend_borrow(struct dns_fixture *fx,
                                struct dns_backend *out);

/*
 * Write answers a[0..n) in the fixture format to path ("-" = stdout), so
 * that loading the file answers the same questions the same way.
 * PB_E_IO, PB_E_LIMIT when the text would exceed PB_LIMIT_FIXTURE_BYTES.
 */
int dns_fixture_record(const struct dns_answer *const *a, size_t n,
                       const char *path, struct pb_err *err);

#endif
