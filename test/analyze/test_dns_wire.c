/* SPDX-License-Identifier: MIT */
/* Tests for analyze/dns_wire.c: DNS response messages, valid and hostile. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "dns_int.h"
#include "pb_limits.h"
#include "testdata.h"

/* A message under construction. */
static unsigned char m[PB_LIMIT_DNS_MSG + 16];
static size_t mlen;

static void
put8(unsigned v)
{
    m[mlen++] = (unsigned char)v;
}

static void
put16(unsigned v)
{
    put8(v >> 8 & 0xff);
    put8(v & 0xff);
}

static void
put32(unsigned long v)
{
    put16((unsigned)(v >> 16 & 0xffff));
    put16((unsigned)(v & 0xffff));
}

static void
putbytes(const void *p, size_t len)
{
    memcpy(m + mlen, p, len);
    mlen += len;
}

/* "a.b" as uncompressed labels and the root octet; "" is the root. */
static void
putname(const char *name)
{
    while (*name != '\0') {
        const char *dot = strchr(name, '.');
        size_t len = dot != NULL ? (size_t)(dot - name) : strlen(name);

        put8((unsigned)len);
        putbytes(name, len);
        name += len + (dot != NULL);
    }
    put8(0);
}

static void
putptr(unsigned off)
{
    put16(0xc000 | off);
}

static void
hdr(unsigned flags, unsigned qd, unsigned an)
{
    mlen = 0;
    put16(0x1234);
    put16(flags);
    put16(qd);
    put16(an);
    put16(0);
    put16(0);
}

/* A NOERROR response header and the question (name at offset 12). */
static void
start(const char *qname, unsigned qtype, unsigned an)
{
    hdr(0x8180, 1, an);
    putname(qname);
    put16(qtype);
    put16(1);
}

/* Owner at offset 12 (the question), type, class IN, TTL; then RDATA. */
static size_t
rr_begin_at(unsigned owner_off, unsigned type)
{
    size_t at;

    putptr(owner_off);
    put16(type);
    put16(1);
    put32(300);
    at = mlen;
    put16(0);
    return at;
}

static void
rr_end(size_t at)
{
    size_t rdlen = mlen - at - 2;

    m[at] = (unsigned char)(rdlen >> 8);
    m[at + 1] = (unsigned char)(rdlen & 0xff);
}

static void
rr_a(unsigned owner_off, const unsigned char addr[4])
{
    size_t at = rr_begin_at(owner_off, DNS_TYPE_A);

    putbytes(addr, 4);
    rr_end(at);
}

static struct dns_answer a;

static int
parse(const char *qname, uint16_t qtype)
{
    dns_answer_release(&a);
    dns_answer_init(&a, qname, qtype);
    return dns_wire_parse(m, mlen, &a);
}

static void
fini(void)
{
    dns_answer_release(&a);
}

TestSuite(dns_wire, .fini = fini);

/* ------------------------------------------------------------------ */
/* Valid input                                                         */

Test(dns_wire, parses_a_record)
{
    static const unsigned char ip[4] = {192, 0, 2, 1};

    start("example.com", DNS_TYPE_A, 1);
    rr_a(12, ip);
    cr_assert_eq(parse("example.com", DNS_TYPE_A), 0);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.rcode, 0);
    cr_assert_eq(a.nrr, 1);
    cr_assert_str_eq(a.rr[0].owner, "example.com");
    cr_assert_eq(a.rr[0].type, DNS_TYPE_A);
    cr_assert_arr_eq(a.rr[0].addr, ip, 4);
    cr_assert_str_eq(a.detail, "");
}

Test(dns_wire, parses_aaaa_record)
{
    static const unsigned char ip[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    size_t at;

    start("example.com", DNS_TYPE_AAAA, 1);
    at = rr_begin_at(12, DNS_TYPE_AAAA);
    putbytes(ip, 16);
    rr_end(at);
    cr_assert_eq(parse("example.com", DNS_TYPE_AAAA), 0);
    cr_assert_eq(a.nrr, 1);
    cr_assert_arr_eq(a.rr[0].addr, ip, 16);
}

Test(dns_wire, parses_mx_with_compressed_exchange)
{
    size_t at;

    start("example.com", DNS_TYPE_MX, 2);
    at = rr_begin_at(12, DNS_TYPE_MX);
    put16(10);
    put8(2);
    putbytes("MX", 2);
    putptr(12); /* mx.example.com */
    rr_end(at);
    at = rr_begin_at(12, DNS_TYPE_MX);
    put16(0);
    put8(0); /* RFC 7505 null MX: "." */
    rr_end(at);
    cr_assert_eq(parse("example.com", DNS_TYPE_MX), 0);
    cr_assert_eq(a.nrr, 2);
    cr_assert_eq(a.rr[0].pref, 10);
    cr_assert_str_eq(a.rr[0].data, "mx.example.com");
    cr_assert_eq(a.rr[0].len, 14);
    cr_assert_eq(a.rr[1].pref, 0);
    cr_assert_str_eq(a.rr[1].data, "");
    cr_assert_eq(dns_answer_count(&a, DNS_TYPE_MX), 2);
}

Test(dns_wire, splits_txt_into_character_strings_and_concatenates)
{
    size_t at;

    start("example.com", DNS_TYPE_TXT, 1);
    at = rr_begin_at(12, DNS_TYPE_TXT);
    put8(9);
    putbytes("v=DKIM1; ", 9);
    put8(0);
    put8(6);
    putbytes("p=MIIB", 6);
    rr_end(at);
    cr_assert_eq(parse("example.com", DNS_TYPE_TXT), 0);
    cr_assert_eq(a.nrr, 1);
    cr_assert_eq(a.rr[0].len, 15);
    cr_assert_str_eq(a.rr[0].data, "v=DKIM1; p=MIIB");
    cr_assert_eq(a.rr[0].nstr, 3);
    cr_assert_eq(a.rr[0].strlens[0], 9);
    cr_assert_eq(a.rr[0].strlens[1], 0);
    cr_assert_eq(a.rr[0].strlens[2], 6);
}

Test(dns_wire, keeps_nul_and_8bit_bytes_in_txt)
{
    static const unsigned char txt[] = {'a', 0, 0xff, '\r', 'b'};
    size_t at;

    start("example.com", DNS_TYPE_TXT, 1);
    at = rr_begin_at(12, DNS_TYPE_TXT);
    put8(sizeof(txt));
    putbytes(txt, sizeof(txt));
    rr_end(at);
    cr_assert_eq(parse("example.com", DNS_TYPE_TXT), 0);
    cr_assert_eq(a.rr[0].len, sizeof(txt));
    cr_assert_arr_eq(a.rr[0].data, txt, sizeof(txt));
}

Test(dns_wire, parses_spf_type_99)
{
    size_t at;

    start("example.com", DNS_TYPE_SPF, 1);
    at = rr_begin_at(12, DNS_TYPE_SPF);
    put8(11);
    putbytes("v=spf1 -all", 11);
    rr_end(at);
    cr_assert_eq(parse("example.com", DNS_TYPE_SPF), 0);
    cr_assert_eq(a.nrr, 1);
    cr_assert_eq(a.rr[0].type, DNS_TYPE_SPF);
    cr_assert_str_eq(a.rr[0].data, "v=spf1 -all");
}

Test(dns_wire, parses_ptr_and_ns_names)
{
    size_t at;

    start("1.2.0.192.in-addr.arpa", DNS_TYPE_PTR, 1);
    at = rr_begin_at(12, DNS_TYPE_PTR);
    putname("Mail.Example.COM");
    rr_end(at);
    cr_assert_eq(parse("1.2.0.192.in-addr.arpa", DNS_TYPE_PTR), 0);
    cr_assert_str_eq(a.rr[0].data, "mail.example.com");

    start("example.com", DNS_TYPE_NS, 1);
    at = rr_begin_at(12, DNS_TYPE_NS);
    putname("ns1.example.net");
    rr_end(at);
    cr_assert_eq(parse("example.com", DNS_TYPE_NS), 0);
    cr_assert_str_eq(a.rr[0].data, "ns1.example.net");
}

Test(dns_wire, lowercases_names_of_the_question_and_records)
{
    static const unsigned char ip[4] = {192, 0, 2, 1};

    start("ExAmple.COM", DNS_TYPE_A, 1);
    rr_a(12, ip);
    cr_assert_eq(parse("example.com", DNS_TYPE_A), 0);
    cr_assert_str_eq(a.rr[0].owner, "example.com");
}

Test(dns_wire, follows_the_cname_chain_and_drops_other_owners)
{
    static const unsigned char ip[4] = {192, 0, 2, 7};
    static const unsigned char stray[4] = {10, 0, 0, 1};
    size_t at, c1, c2;

    start("alias.example.com", DNS_TYPE_A, 4);
    /* Out of order on purpose: the end's A first, then the chain. */
    c2 = mlen;
    putname("end.example.net");
    put16(DNS_TYPE_A);
    put16(1);
    put32(60);
    put16(4);
    putbytes(ip, 4);
    at = rr_begin_at(12, DNS_TYPE_CNAME);
    c1 = mlen;
    putname("mid.example.org");
    rr_end(at);
    at = rr_begin_at((unsigned)c1, DNS_TYPE_CNAME);
    putptr((unsigned)c2);
    rr_end(at);
    /* An A record of a name outside the chain must not be believed. */
    at = mlen;
    putname("victim.example");
    put16(DNS_TYPE_A);
    put16(1);
    put32(60);
    put16(4);
    putbytes(stray, 4);
    cr_assert_eq(parse("alias.example.com", DNS_TYPE_A), 0);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 3);
    cr_assert_eq(a.rr[0].type, DNS_TYPE_CNAME);
    cr_assert_str_eq(a.rr[0].owner, "alias.example.com");
    cr_assert_str_eq(a.rr[0].data, "mid.example.org");
    cr_assert_str_eq(a.rr[1].owner, "mid.example.org");
    cr_assert_str_eq(a.rr[1].data, "end.example.net");
    cr_assert_str_eq(a.rr[2].owner, "end.example.net");
    cr_assert_arr_eq(a.rr[2].addr, ip, 4);
    cr_assert_eq(dns_answer_count(&a, DNS_TYPE_A), 1);
    cr_assert(!dns_answer_is_void(&a));
}

Test(dns_wire, cname_question_gets_the_cname_itself)
{
    size_t at;

    start("alias.example.com", DNS_TYPE_CNAME, 1);
    at = rr_begin_at(12, DNS_TYPE_CNAME);
    putname("example.com");
    rr_end(at);
    cr_assert_eq(parse("alias.example.com", DNS_TYPE_CNAME), 0);
    cr_assert_eq(a.nrr, 1);
    cr_assert_eq(dns_answer_count(&a, DNS_TYPE_CNAME), 1);
    cr_assert_str_eq(a.rr[0].data, "example.com");
}

Test(dns_wire, nxdomain_keeps_the_chain)
{
    size_t at;

    hdr(0x8183, 1, 1);
    putname("alias.example.com");
    put16(DNS_TYPE_TXT);
    put16(1);
    at = rr_begin_at(12, DNS_TYPE_CNAME);
    putname("gone.example.com");
    rr_end(at);
    cr_assert_eq(parse("alias.example.com", DNS_TYPE_TXT), 0);
    cr_assert_eq(a.status, DNS_NXDOMAIN);
    cr_assert_eq(a.rcode, 3);
    cr_assert_eq(a.nrr, 1);
    cr_assert(dns_answer_is_void(&a));
    cr_assert(!dns_answer_is_error(&a));
}

Test(dns_wire, empty_noerror_is_nodata)
{
    start("example.com", DNS_TYPE_TXT, 0);
    cr_assert_eq(parse("example.com", DNS_TYPE_TXT), 0);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 0);
    cr_assert(dns_answer_is_void(&a));
    cr_assert_str_eq(dns_status_name(&a), "NOERROR");
}

Test(dns_wire, servfail_is_an_rcode_without_records)
{
    static const unsigned char ip[4] = {192, 0, 2, 1};

    hdr(0x8182, 1, 1);
    putname("example.com");
    put16(DNS_TYPE_A);
    put16(1);
    rr_a(12, ip);
    cr_assert_eq(parse("example.com", DNS_TYPE_A), 0);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 2);
    cr_assert_eq(a.nrr, 0);
    cr_assert(dns_answer_is_error(&a));
    cr_assert_str_eq(dns_status_name(&a), "SERVFAIL");
}

Test(dns_wire, refused_may_leave_out_the_question)
{
    hdr(0x8185, 0, 0);
    cr_assert_eq(parse("example.com", DNS_TYPE_A), 0);
    cr_assert_eq(a.status, DNS_RCODE);
    cr_assert_eq(a.rcode, 5);
}

Test(dns_wire, skips_other_types_and_classes)
{
    static const unsigned char ip[4] = {192, 0, 2, 1};
    size_t at;

    start("example.com", DNS_TYPE_A, 3);
    at = rr_begin_at(12, 46); /* RRSIG */
    putbytes("\1\2\3\4\5", 5);
    rr_end(at);
    putptr(12);
    put16(DNS_TYPE_A);
    put16(3); /* CHAOS */
    put32(0);
    put16(4);
    putbytes("\1\1\1\1", 4);
    rr_a(12, ip);
    cr_assert_eq(parse("example.com", DNS_TYPE_A), 0);
    cr_assert_eq(a.nrr, 1);
    cr_assert_arr_eq(a.rr[0].addr, ip, 4);
}

Test(dns_wire, keeps_odd_bytes_in_names_and_escapes_nul_and_dot)
{
    char out[DNS_NAME_TEXT_MAX];
    const char *why = NULL;
    size_t off = 0;

    mlen = 0;
    putbytes("\x05"
             "a\0b.\x7f"
             "\x03"
             "C\xe9x"
             "\x00",
             11);
    cr_assert_eq(dns_wire_name_read(m, mlen, &off, out, &why), 0);
    cr_assert_str_eq(out, "a\\000b\\046\x7f.c\xe9x");
    cr_assert_eq(off, 11);
}

Test(dns_wire, reads_the_root_name_as_empty)
{
    char out[DNS_NAME_TEXT_MAX];
    const char *why = NULL;
    size_t off = 0;

    mlen = 0;
    put8(0);
    cr_assert_eq(dns_wire_name_read(m, mlen, &off, out, &why), 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(off, 1);
}

/* Answers captured from unbound 1.17 on loopback (test/data/dns/wire). */
Test(dns_wire, parses_answers_captured_from_unbound)
{
    static const struct {
        const char *file, *qname;
        uint16_t qtype;
        enum dns_status status;
        int rcode;
        size_t nrr;
        const char *data; /* of the first record, or NULL */
    } cases[] = {
        {"unbound-txt-two-strings.bin", "multi.test", DNS_TYPE_TXT, DNS_OK, 0,
         1, "v=DKIM1; k=rsa; p=MIIB"},
        {"unbound-mx.bin", "mx.test", DNS_TYPE_MX, DNS_OK, 0, 1, "mail.test"},
        {"unbound-null-mx.bin", "nullmx.test", DNS_TYPE_MX, DNS_OK, 0, 1, ""},
        {"unbound-aaaa.bin", "a.test", DNS_TYPE_AAAA, DNS_OK, 0, 1, NULL},
        {"unbound-ptr.bin", "1.3.0.127.in-addr.arpa", DNS_TYPE_PTR, DNS_OK, 0,
         1, "host.test"},
        {"unbound-nxdomain.bin", "nope.test", DNS_TYPE_A, DNS_NXDOMAIN, 3, 0,
         NULL},
        {"unbound-nodata.bin", "x.test", DNS_TYPE_A, DNS_OK, 0, 0, NULL},
        {"unbound-refused.bin", "refuse.test", DNS_TYPE_A, DNS_RCODE, 5, 0,
         NULL},
        {"unbound-servfail.bin", "servfail.test", DNS_TYPE_TXT, DNS_RCODE, 2, 0,
         NULL},
        {"unbound-cname-only.bin", "alias2.test", DNS_TYPE_TXT, DNS_OK, 0, 1,
         "alias.test"},
        {"unbound-txt-2kb-tcp.bin", "big.test", DNS_TYPE_TXT, DNS_OK, 0, 8,
         NULL},
        {"unbound-txt-2kb-udp-truncated.bin", "big.test", DNS_TYPE_TXT,
         DNS_ERROR, -1, 0, NULL},
    };
    char rel[128];
    size_t i, len;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *msg;

        snprintf(rel, sizeof(rel), "dns/wire/%s", cases[i].file);
        msg = testdata_read(testdata_path(rel), &len);
        cr_assert_not_null(msg, "%s", rel);
        dns_answer_release(&a);
        dns_answer_init(&a, cases[i].qname, cases[i].qtype);
        dns_wire_parse(msg, len, &a);
        free(msg);
        cr_assert_eq(a.status, cases[i].status, "%s: %s", rel, a.detail);
        cr_assert_eq(a.rcode, cases[i].rcode, "%s", rel);
        cr_assert_eq(a.nrr, cases[i].nrr, "%s", rel);
        if (cases[i].data != NULL)
            cr_assert_str_eq(a.rr[0].data, cases[i].data, "%s", rel);
    }
    /* The 2 KB answer: 8 records of 242 bytes each. */
    cr_assert_eq(a.status, DNS_ERROR);
    cr_assert_str_eq(a.detail, "malformed answer: truncated (TC bit set)");
}

/* ------------------------------------------------------------------ */
/* Limits: exactly at, and one over                                    */

/* Labels of these lengths joined by dots, for a name of wire size sum+n+1. */
static void
long_name(char *out, const size_t *lens, size_t n)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (i > 0)
            out[o++] = '.';
        memset(out + o, 'a' + (int)i, lens[i]);
        o += lens[i];
    }
    out[o] = '\0';
}

Test(dns_wire, accepts_a_name_of_255_octets)
{
    static const size_t lens[] = {63, 63, 63, 61};
    char name[300];
    size_t at;

    long_name(name, lens, 4);
    cr_assert_eq(strlen(name), 253);
    start(name, DNS_TYPE_TXT, 1);
    at = rr_begin_at(12, DNS_TYPE_TXT);
    put8(1);
    put8('x');
    rr_end(at);
    cr_assert_eq(parse(name, DNS_TYPE_TXT), 0, "%s", a.detail);
    cr_assert_str_eq(a.rr[0].owner, name);
}

Test(dns_wire, rejects_a_name_of_256_octets)
{
    static const size_t lens[] = {63, 63, 63, 62};
    char name[300];

    long_name(name, lens, 4);
    start(name, DNS_TYPE_TXT, 0);
    cr_assert_eq(parse(name, DNS_TYPE_TXT), -1);
    cr_assert_eq(a.status, DNS_ERROR);
    cr_assert_str_eq(a.detail, "malformed answer: name longer than 255 octets");
}

Test(dns_wire, rejects_a_64_octet_label_as_an_unknown_label_type)
{
    hdr(0x8180, 1, 0);
    put8(64);
    memset(m + mlen, 'a', 64);
    mlen += 64;
    put8(0);
    put16(1);
    put16(1);
    cr_assert_eq(parse("x", DNS_TYPE_A), -1);
    cr_assert_str_eq(a.detail, "malformed answer: unknown label type");
}

static void
many_a(unsigned n)
{
    unsigned i;

    start("example.com", DNS_TYPE_A, n);
    for (i = 0; i < n; i++) {
        unsigned char ip[4] = {10, 0, (unsigned char)(i >> 8),
                               (unsigned char)i};

        rr_a(12, ip);
    }
}

Test(dns_wire, accepts_exactly_the_record_limit)
{
    many_a(PB_LIMIT_DNS_RRS);
    cr_assert_eq(parse("example.com", DNS_TYPE_A), 0);
    cr_assert_eq(a.nrr, PB_LIMIT_DNS_RRS);
}

Test(dns_wire, rejects_one_record_over_the_limit)
{
    many_a(PB_LIMIT_DNS_RRS + 1);
    cr_assert_eq(parse("example.com", DNS_TYPE_A), -1);
    cr_assert_eq(a.status, DNS_ERROR);
    cr_assert_eq(a.nrr, 0);
    cr_assert_str_eq(a.detail,
                     "malformed answer: 513 records, over the limit of 512");
}

Test(dns_wire, accepts_a_message_of_65535_octets_and_rejects_65536)
{
    static const unsigned char ip[4] = {192, 0, 2, 1};

    start("example.com", DNS_TYPE_A, 1);
    rr_a(12, ip);
    /* Whatever follows the answer section (authority, additional). */
    memset(m + mlen, 0xee, PB_LIMIT_DNS_MSG - mlen);
    mlen = PB_LIMIT_DNS_MSG;
    cr_assert_eq(parse("example.com", DNS_TYPE_A), 0);
    cr_assert_eq(a.nrr, 1);
    mlen = PB_LIMIT_DNS_MSG + 1;
    cr_assert_eq(parse("example.com", DNS_TYPE_A), -1);
    cr_assert_eq(a.nrr, 0);
}

Test(dns_wire, accepts_a_255_byte_character_string)
{
    size_t at;

    start("example.com", DNS_TYPE_TXT, 1);
    at = rr_begin_at(12, DNS_TYPE_TXT);
    put8(255);
    memset(m + mlen, 'k', 255);
    mlen += 255;
    rr_end(at);
    cr_assert_eq(parse("example.com", DNS_TYPE_TXT), 0);
    cr_assert_eq(a.rr[0].len, 255);
    cr_assert_eq(a.rr[0].strlens[0], 255);
}

/* ------------------------------------------------------------------ */
/* Hostile input                                                       */

static void
assert_malformed(const char *qname, uint16_t qtype, const char *detail)
{
    cr_assert_eq(parse(qname, qtype), -1, "parsed: %s", a.detail);
    cr_assert_eq(a.status, DNS_ERROR);
    cr_assert_eq(a.nrr, 0);
    cr_assert_eq(a.rcode, -1);
    cr_assert_str_eq(a.detail, detail);
}

Test(dns_wire, rejects_an_empty_message)
{
    mlen = 0;
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: shorter than its 12-octet header");
}

Test(dns_wire, rejects_every_truncation_of_a_valid_message)
{
    size_t at, full, cut;

    start("example.com", DNS_TYPE_MX, 1);
    at = rr_begin_at(12, DNS_TYPE_MX);
    put16(10);
    putname("mx.example.com");
    rr_end(at);
    full = mlen;
    for (cut = 0; cut < full; cut++) {
        mlen = cut;
        cr_assert_eq(parse("example.com", DNS_TYPE_MX), -1, "cut at %zu", cut);
        cr_assert_eq(a.status, DNS_ERROR);
    }
    mlen = full;
    cr_assert_eq(parse("example.com", DNS_TYPE_MX), 0);
}

Test(dns_wire, rejects_a_pointer_to_itself)
{
    hdr(0x8180, 1, 0);
    putptr(12);
    put16(1);
    put16(1);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: compression pointer does not point "
                     "backwards");
}

Test(dns_wire, rejects_a_pointer_forward)
{
    hdr(0x8180, 1, 0);
    putptr(20);
    put16(1);
    put16(1);
    putname("example.com");
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: compression pointer does not point "
                     "backwards");
}

Test(dns_wire, rejects_a_pointer_beyond_the_end)
{
    start("example.com", DNS_TYPE_A, 1);
    putptr(0x3fff);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: compression pointer does not point "
                     "backwards");
    /* The first octet of a pointer as the message's last byte. */
    start("example.com", DNS_TYPE_A, 1);
    put8(0xc0);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: compression pointer runs past the end");
}

Test(dns_wire, rejects_a_two_pointer_loop)
{
    /* At 12: label "a" then a pointer to 17; at 17: a pointer to 12. */
    hdr(0x8180, 1, 0);
    put8(1);
    put8('a');
    putptr(17);
    put8(0);
    putptr(12);
    assert_malformed("a", DNS_TYPE_A,
                     "malformed answer: compression pointer does not point "
                     "backwards");
}

Test(dns_wire, rejects_a_label_beyond_the_end)
{
    hdr(0x8180, 1, 0);
    put8(40);
    putbytes("abc", 3);
    assert_malformed("abc", DNS_TYPE_A,
                     "malformed answer: label runs past the end of the "
                     "message");
}

Test(dns_wire, rejects_a_txt_length_byte_beyond_its_record)
{
    size_t at;

    start("example.com", DNS_TYPE_TXT, 1);
    at = rr_begin_at(12, DNS_TYPE_TXT);
    put8(3);
    putbytes("abc", 3);
    put8(5); /* 5 bytes claimed, 2 left in the record */
    putbytes("de", 2);
    rr_end(at);
    /* and bytes after the record that the string must not swallow */
    putbytes("fghij", 5);
    assert_malformed("example.com", DNS_TYPE_TXT,
                     "malformed answer: character-string runs past its "
                     "record");
}

Test(dns_wire, rejects_rdata_beyond_the_end)
{
    size_t at;

    start("example.com", DNS_TYPE_TXT, 1);
    at = rr_begin_at(12, DNS_TYPE_TXT);
    put8(3);
    putbytes("abc", 3);
    rr_end(at);
    m[at + 1] = 200;
    assert_malformed("example.com", DNS_TYPE_TXT,
                     "malformed answer: record data runs past the end");
}

Test(dns_wire, rejects_rdlength_that_does_not_match_the_data)
{
    size_t at;

    start("example.com", DNS_TYPE_A, 1);
    at = rr_begin_at(12, DNS_TYPE_A);
    putbytes("\1\2\3\4\5", 5);
    rr_end(at);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: address record of the wrong length");

    start("example.com", DNS_TYPE_CNAME, 1);
    at = rr_begin_at(12, DNS_TYPE_CNAME);
    putname("x.example.com");
    put8(0); /* one byte more than the name */
    rr_end(at);
    assert_malformed("example.com", DNS_TYPE_CNAME,
                     "malformed answer: name does not fill its record");

    start("example.com", DNS_TYPE_MX, 1);
    at = rr_begin_at(12, DNS_TYPE_MX);
    put16(10);
    putname("mx.example.com");
    rr_end(at);
    m[at + 1] = 3; /* the name runs past the record */
    assert_malformed("example.com", DNS_TYPE_MX,
                     "malformed answer: name does not fill its record");
}

Test(dns_wire, rejects_zero_length_records)
{
    static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_MX,
                                     DNS_TYPE_CNAME, DNS_TYPE_PTR};
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        start("example.com", types[i], 1);
        rr_end(rr_begin_at(12, types[i]));
        cr_assert_eq(parse("example.com", types[i]), -1, "type %u", types[i]);
        cr_assert_eq(a.status, DNS_ERROR);
    }
}

/* Lenient on purpose: RFC 1035 wants a string, but one bad record must not
 * hide the rest of the RRset (the SPF suite's "null-text"). */
Test(dns_wire, takes_a_txt_record_without_strings_as_empty)
{
    size_t at;

    start("example.com", DNS_TYPE_SPF, 2);
    at = rr_begin_at(12, DNS_TYPE_SPF);
    put8(6);
    putbytes("v=spf1", 6);
    rr_end(at);
    rr_end(rr_begin_at(12, DNS_TYPE_SPF));
    cr_assert_eq(parse("example.com", DNS_TYPE_SPF), 0, "%s", a.detail);
    cr_assert_eq(a.nrr, 2);
    cr_assert_eq(a.rr[1].nstr, 0);
    cr_assert_eq(a.rr[1].len, 0);
    cr_assert_str_eq(a.rr[1].data, "");
}

Test(dns_wire, rejects_huge_counts)
{
    static const unsigned char ip[4] = {192, 0, 2, 1};

    start("example.com", DNS_TYPE_A, 0xffff);
    rr_a(12, ip);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: 65535 records, over the limit of 512");
    start("example.com", DNS_TYPE_A, 500);
    rr_a(12, ip);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: name runs past the end of the "
                     "message");
    hdr(0x8180, 0xffff, 0);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: question count other than 1");
}

Test(dns_wire, rejects_what_is_not_an_answer_to_our_question)
{
    start("example.com", DNS_TYPE_A, 0);
    m[2] &= 0x7f; /* QR clear: a query */
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: not a response (QR bit clear)");
    start("example.com", DNS_TYPE_A, 0);
    m[2] |= 0x02; /* TC */
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: truncated (TC bit set)");
    start("example.com", DNS_TYPE_A, 0);
    m[2] |= 0x10; /* opcode 2 */
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: opcode other than QUERY");
    start("example.org", DNS_TYPE_A, 0);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: answers another question");
    start("example.com", DNS_TYPE_AAAA, 0);
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: answers another question");
    start("example.com", DNS_TYPE_A, 0);
    m[mlen - 1] = 3; /* class CH */
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: answers another question");
    hdr(0x8180, 0, 0); /* NOERROR without the question */
    assert_malformed("example.com", DNS_TYPE_A,
                     "malformed answer: question count other than 1");
}

Test(dns_wire, rejects_a_cname_loop_in_the_answer)
{
    size_t at, b;

    start("a.example", DNS_TYPE_A, 2);
    at = rr_begin_at(12, DNS_TYPE_CNAME);
    b = mlen;
    putname("b.example");
    rr_end(at);
    at = rr_begin_at((unsigned)b, DNS_TYPE_CNAME);
    putptr(12);
    rr_end(at);
    assert_malformed("a.example", DNS_TYPE_A, "malformed answer: CNAME loop");
}

Test(dns_wire, rejects_extended_label_types)
{
    hdr(0x8180, 1, 0);
    put8(0x41);
    putbytes("ab", 2);
    put8(0);
    put16(1);
    put16(1);
    assert_malformed("ab", DNS_TYPE_A, "malformed answer: unknown label type");
}

Test(dns_wire, survives_random_bytes)
{
    unsigned seed = 12345;
    int round;

    for (round = 0; round < 20000; round++) {
        size_t i;

        start("example.com", DNS_TYPE_TXT, 1 + (unsigned)round % 3);
        mlen += (size_t)round % 60;
        for (i = 12; i < mlen; i++) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 4 == 0)
                m[i] = (unsigned char)(seed >> 24);
        }
        parse("example.com", DNS_TYPE_TXT);
        cr_assert(a.status == DNS_OK || a.status == DNS_ERROR ||
                  a.status == DNS_NXDOMAIN || a.status == DNS_RCODE);
    }
}

/* ------------------------------------------------------------------ */
/* Regressions                                                         */

/*
 * A first draft only demanded that a pointer point before itself.  Here
 * the pointer at 14 points to 12, whose label leads back to 14 again:
 * each jump is backwards, yet it loops forever.  Jumps must strictly
 * decrease.
 */
Test(dns_wire, regression_pointer_back_to_a_label_before_itself)
{
    hdr(0x8180, 1, 0);
    put8(1);
    put8('a');
    putptr(12);
    put16(1);
    put16(1);
    assert_malformed("a", DNS_TYPE_A,
                     "malformed answer: compression pointer does not point "
                     "backwards");
}

/*
 * unbound's local-data answers a CNAME question for a chain's first name
 * with that CNAME only; the TXT of the target is not in the message.  That
 * is a valid answer: the chain, and NODATA at its (unseen) end.
 */
Test(dns_wire, regression_unbound_local_data_cname_without_target)
{
    static const unsigned char msg[] = {
        0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x06, 0x61, 0x6c, 0x69, 0x61, 0x73, 0x32, 0x04,
        0x74, 0x65, 0x73, 0x74, 0x00, 0x00, 0x10, 0x00, 0x01, 0xc0,
        0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00,
        0x08, 0x05, 0x61, 0x6c, 0x69, 0x61, 0x73, 0xc0, 0x13};

    mlen = sizeof(msg);
    memcpy(m, msg, mlen);
    cr_assert_eq(parse("alias2.test", DNS_TYPE_TXT), 0);
    cr_assert_eq(a.status, DNS_OK);
    cr_assert_eq(a.nrr, 1);
    cr_assert_str_eq(a.rr[0].data, "alias.test");
    cr_assert_eq(dns_answer_count(&a, DNS_TYPE_TXT), 0);
    cr_assert(dns_answer_is_void(&a));
}
