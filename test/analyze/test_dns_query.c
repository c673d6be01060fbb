/* SPDX-License-Identifier: MIT */
/*
 * Tests for analyze/dns_query.c (the resolver front, its cache and
 * recording) over the fixture back end, and for analyze/dns_ares.c against
 * tiny servers on 127.0.0.1 only.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "dns_int.h"
#include "pb_limits.h"
#include "pb_log.h"
#include "testdata.h"

static struct dns_resolver *r;

static void
open_fixture(const char *rel)
{
    struct dns_options opt = {.fixture = testdata_path(rel)};
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(dns_resolver_new(&opt, &r, &err), 0, "%s", err.msg);
}

static void
fini(void)
{
    dns_resolver_free(r);
    r = NULL;
}

TestSuite(dns_query, .fini = fini);

/* ------------------------------------------------------------------ */
/* The front                                                           */

Test(dns_query, caches_answers_by_canonical_name_and_type)
{
    const struct dns_answer *x, *y, *z;

    open_fixture("dns/product-example.json");
    x = dns_query(r, "example.com", DNS_TYPE_TXT);
    y = dns_query(r, "EXAMPLE.Com.", DNS_TYPE_TXT);
    z = dns_query(r, "example.com", DNS_TYPE_A);
    cr_assert_eq(x, y);
    cr_assert_neq(x, z);
    cr_assert_str_eq(y->qname, "example.com");
    cr_assert_eq(x->nrr, 2);
    cr_assert_eq(dns_resolver_sent(r), 2);
}

Test(dns_query, asks_a_batch_once_per_distinct_question)
{
    static const struct dns_question q[] = {
        {"example.com", DNS_TYPE_MX},
        {"alias.example.com", DNS_TYPE_A},
        {"Example.COM", DNS_TYPE_MX},
        {"slow.example.com", DNS_TYPE_A},
        {"nowhere.example.com", DNS_TYPE_TXT},
    };
    const struct dns_answer *out[5];

    open_fixture("dns/product-example.json");
    dns_query_many(r, q, 5, out);
    cr_assert_eq(dns_resolver_sent(r), 4);
    cr_assert_eq(out[0], out[2]);
    cr_assert_eq(out[0]->rr[0].pref, 10);
    cr_assert_eq(out[1]->nrr, 2);
    cr_assert_eq(out[3]->status, DNS_TIMEOUT);
    cr_assert_eq(out[4]->status, DNS_NXDOMAIN);
    /* The answers stay valid and cached. */
    cr_assert_eq(dns_query(r, "alias.example.com", DNS_TYPE_A), out[1]);
    cr_assert_eq(dns_resolver_sent(r), 4);
    dns_query_many(r, q, 0, out);
}

Test(dns_query, invalid_names_never_reach_the_back_end)
{
    const struct dns_answer *a;

    open_fixture("dns/product-example.json");
    a = dns_query(r, "bad\tname.example.com", DNS_TYPE_TXT);
    cr_assert_eq(a->status, DNS_ERROR);
    cr_assert_str_eq(a->detail,
                     "invalid name: byte other than printable ASCII");
    cr_assert(dns_answer_is_error(a));
    a = dns_query(r, "a\nb", DNS_TYPE_A);
    cr_assert_str_eq(a->qname, "a\\nb");
    a = dns_query(r, NULL, DNS_TYPE_A);
    cr_assert_str_eq(a->detail, "invalid name: empty name");
    a = dns_query(r, ".", DNS_TYPE_A);
    cr_assert_eq(a->status, DNS_ERROR);
    cr_assert_eq(dns_resolver_sent(r), 0);
}

Test(dns_query, unsupported_types_are_errors)
{
    const struct dns_answer *a;

    open_fixture("dns/product-example.json");
    a = dns_query(r, "example.com", DNS_TYPE_SOA);
    cr_assert_eq(a->status, DNS_ERROR);
    cr_assert_str_eq(a->detail, "unsupported query type 6");
    cr_assert_eq(dns_query(r, "example.com", 65)->status, DNS_ERROR);
    cr_assert_eq(dns_resolver_sent(r), 0);
}

Test(dns_query, reports_a_bad_fixture_when_made)
{
    struct dns_options opt = {.fixture = testdata_path("dns/bad-mx.json")};
    struct pb_err err;

    pb_err_clear(&err);
    r = (struct dns_resolver *)1;
    cr_assert_eq(dns_resolver_new(&opt, &r, &err), -1);
    cr_assert_null(r);
    cr_assert_eq(err.code, PB_E_SYNTAX);
    cr_assert_eq(err.stage, PB_STAGE_CONFIG);
    opt.fixture = NULL;
    opt.tries = -1;
    cr_assert_eq(dns_resolver_new(&opt, &r, &err), -1);
    cr_assert_eq(err.code, PB_E_USAGE);
}

Test(dns_query, keeps_answers_up_to_the_cache_limit)
{
    char name[64];
    const struct dns_answer *first, *a;
    struct pb_err err;
    int i;

    open_fixture("dns/product-example.json");
    first = dns_query(r, "n0.test", DNS_TYPE_A);
    for (i = 1; i < PB_LIMIT_DNS_CACHE; i++) {
        snprintf(name, sizeof(name), "n%d.test", i);
        a = dns_query(r, name, DNS_TYPE_A);
        cr_assert_eq(a->status, DNS_NXDOMAIN);
    }
    cr_assert_eq(dns_resolver_sent(r), PB_LIMIT_DNS_CACHE);
    /* One over: still answered, but not kept for the run */
    a = dns_query(r, "one-more.test", DNS_TYPE_A);
    cr_assert_eq(a->status, DNS_NXDOMAIN);
    cr_assert_eq(dns_resolver_sent(r), PB_LIMIT_DNS_CACHE + 1);
    cr_assert_eq(dns_query(r, "n0.test", DNS_TYPE_A), first,
                 "cached ones stay");
    a = dns_query(r, "one-more.test", DNS_TYPE_A);
    cr_assert_eq(dns_resolver_sent(r), PB_LIMIT_DNS_CACHE + 2, "asked again");
    dns_resolver_forget(r); /* frees the uncached ones; ASan checks it */
    cr_assert_eq(dns_query(r, "n0.test", DNS_TYPE_A), first);
    /* a recording would miss answers: refused, saying why */
    cr_assert_eq(dns_resolver_record(r, "/dev/null", &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    cr_assert(strstr(err.msg, "not kept") != NULL, "%s", err.msg);
}

Test(dns_query, logs_each_question_escaped_at_debug_level,
     .init = cr_redirect_stderr)
{
    char buf[1024];
    size_t n;
    FILE *f;

    open_fixture("dns/product-example.json");
    pb_log_level = PB_LOG_DEBUG;
    dns_query(r, "example.com", DNS_TYPE_MX);
    dns_query(r, "example.com", DNS_TYPE_MX);
    dns_query(r, "x\x1b[31m", DNS_TYPE_A);
    pb_log_level = PB_LOG_WARN;
    fflush(stderr);
    f = cr_get_redirected_stderr();
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    cr_assert_str_eq(buf,
                     "probe: debug: dns: MX example.com: NOERROR, 1 records "
                     "(fixture)\n"
                     "probe: debug: dns: MX example.com: NOERROR (cached)\n"
                     "probe: debug: dns: A x\\x1b[31m: invalid name: byte "
                     "other than printable ASCII\n");
}

/* ------------------------------------------------------------------ */
/* Helpers of analyze.h                                                */

struct name_case {
    char *name;
    char *why; /* NULL: valid */
};

/* Parameters reach each test's process by copy, pointers too. */
static void
name_cases_free(struct criterion_test_params *crp)
{
    struct name_case *c = crp->params;
    size_t i;

    for (i = 0; i < crp->length; i++) {
        cr_free(c[i].name);
        cr_free(c[i].why);
    }
    cr_free(c);
}

#define L10 "aaaaaaaaaa"
#define L60 L10 L10 L10 L10 L10 L10
#define L63 L60 "aaa"
/* 253 octets as text: labels of 63, 63, 63 and 61. */
#define N253 L63 "." L63 "." L63 "." L60 "a"

ParameterizedTestParameters(dns_query, checks_names)
{
    static const char *const cases[][2] = {
        {"example.com", NULL},
        {"example.com.", NULL},
        {"_dmarc.example.com", NULL},
        {"a", NULL},
        {"1.2.0.192.in-addr.arpa", NULL},
        {N253, NULL},
        {N253 ".", NULL},
        {N253 "b", "name longer than 253 octets"},
        {L63 ".com", NULL},
        {L63 "a.com", "label longer than 63 octets"},
        {"", "empty name"},
        {".", "empty name"},
        {"a..b", "empty label"},
        {".a", "empty label"},
        {"a.b..", "empty label"},
        {"a b", NULL},
        {"macro%percent  space%20url-space.example.com", NULL},
        {"a\x7f", "byte other than printable ASCII"},
        {"caf\xc3\xa9.fr", "byte other than printable ASCII"},
        {"tab\t", "byte other than printable ASCII"},
        {"nul\x01", "byte other than printable ASCII"},
    };

    size_t i, n = sizeof(cases) / sizeof(cases[0]);
    struct name_case *c = cr_malloc(n * sizeof(*c));

    for (i = 0; i < n; i++) {
        c[i].name = testdata_param_strdup(cases[i][0]);
        c[i].why =
            cases[i][1] != NULL ? testdata_param_strdup(cases[i][1]) : NULL;
    }
    return cr_make_param_array(struct name_case, c, n, name_cases_free);
}

ParameterizedTest(struct name_case *c, dns_query, checks_names)
{
    const char *why = "unset";
    int rc = dns_name_check(c->name, strlen(c->name), &why);

    if (c->why == NULL) {
        cr_assert_eq(rc, 0, "%s: %s", c->name, why);
    } else {
        cr_assert_eq(rc, -1, "%s", c->name);
        cr_assert_str_eq(why, c->why);
    }
}

Test(dns_query, checks_names_by_length_not_nul)
{
    const char *why;

    cr_assert_eq(dns_name_check("example.com\0evil", 16, &why), -1);
    cr_assert_eq(dns_name_check("example.comXXX", 11, &why), 0);
}

Test(dns_query, names_types_and_rcodes)
{
    cr_assert_str_eq(dns_type_name(DNS_TYPE_TXT), "TXT");
    cr_assert_str_eq(dns_type_name(DNS_TYPE_SPF), "SPF");
    cr_assert_str_eq(dns_type_name(999), "UNKNOWN");
    cr_assert_eq(dns_type_from_name("txt"), DNS_TYPE_TXT);
    cr_assert_eq(dns_type_from_name("AAAA"), DNS_TYPE_AAAA);
    cr_assert_eq(dns_type_from_name("SOA"), DNS_TYPE_SOA);
    cr_assert_eq(dns_type_from_name("TXTX"), 0);
    cr_assert_eq(dns_type_from_name(""), 0);
    cr_assert_eq(dns_rcode_from_name("SERVFAIL"), 2);
    cr_assert_eq(dns_rcode_from_name("nxdomain"), 3);
    cr_assert_eq(dns_rcode_from_name("NOPE"), -1);
    cr_assert_str_eq(dns_rcode_name(5), "REFUSED");
    cr_assert_str_eq(dns_rcode_name(0), "NOERROR");
    cr_assert_str_eq(dns_rcode_name(99), "UNKNOWN");
}

Test(dns_query, classifies_answers)
{
    struct dns_answer a;

    dns_answer_init(&a, "x.test", DNS_TYPE_A);
    dns_answer_set(&a, DNS_TIMEOUT, -1, "no answer");
    cr_assert_str_eq(dns_status_name(&a), "TIMEOUT");
    cr_assert(dns_answer_is_error(&a));
    cr_assert(!dns_answer_is_void(&a));
    dns_answer_set(&a, DNS_ERROR, -1, "bad");
    cr_assert_str_eq(dns_status_name(&a), "ERROR");
    cr_assert(dns_answer_is_error(&a));
    dns_answer_set(&a, DNS_RCODE, 5, "%s", "");
    cr_assert_str_eq(dns_status_name(&a), "REFUSED");
    cr_assert(dns_answer_is_error(&a));
    dns_answer_set(&a, DNS_NXDOMAIN, 3, "%s", "");
    cr_assert(dns_answer_is_void(&a));
    cr_assert(!dns_answer_is_error(&a));
    dns_answer_set(&a, DNS_OK, 0, "%s", "");
    cr_assert(dns_answer_is_void(&a));
    cr_assert_eq(dns_answer_count(&a, DNS_TYPE_A), 0);
    dns_answer_release(&a);
}

/* ------------------------------------------------------------------ */
/* Record a run, replay it                                             */

static const struct dns_question replay_q[] = {
    {"example.com", DNS_TYPE_TXT},
    {"example.com", DNS_TYPE_A},
    {"example.com", DNS_TYPE_AAAA},
    {"example.com", DNS_TYPE_MX},
    {"example.com", DNS_TYPE_SPF},
    {"example.com", DNS_TYPE_NS},
    {"1.2.0.192.in-addr.arpa", DNS_TYPE_PTR},
    {"alias.example.com", DNS_TYPE_TXT},
    {"alias.example.com", DNS_TYPE_CNAME},
    {"slow.example.com", DNS_TYPE_A},
    {"half.example.com", DNS_TYPE_A},
    {"half.example.com", DNS_TYPE_TXT},
    {"half.example.com", DNS_TYPE_MX},
    {"broken.example.com", DNS_TYPE_A},
    {"nowhere.example.com", DNS_TYPE_A},
    {"mixed.example.com", DNS_TYPE_A},
    {"mixed.example.com", DNS_TYPE_TXT},
    {"mixed.example.com", DNS_TYPE_MX},
    {"nodata.example.com", DNS_TYPE_A},
    {"alias2.example.com", DNS_TYPE_A},
    {"alias2.example.com", DNS_TYPE_MX},
    {"alias1.example.com", DNS_TYPE_TXT},
    {"dangling.example.com", DNS_TYPE_A},
    {"to-slow.example.com", DNS_TYPE_A},
    {"to-broken.example.com", DNS_TYPE_A},
    {"gone.example.com", DNS_TYPE_A},
    {"numeric.example.com", DNS_TYPE_A},
    {"loop1.example.com", DNS_TYPE_A},
    {"self.example.com", DNS_TYPE_A},
    {"per-type.example.com", DNS_TYPE_A},
    {"per-type.example.com", DNS_TYPE_TXT},
    {"per-type.example.com", DNS_TYPE_MX},
    {"per-type.example.com", DNS_TYPE_AAAA},
    {"per-type.example.com", DNS_TYPE_NS},
    {"per-type.example.com", DNS_TYPE_PTR},
    {"alias-timeout.example.com", DNS_TYPE_MX},
    {"alias-timeout.example.com", DNS_TYPE_A},
    {"nullmx.example.com", DNS_TYPE_MX},
    {"bytes.example.com", DNS_TYPE_TXT},
    {"bad\tname", DNS_TYPE_A},
    {"name with spaces", DNS_TYPE_A},
    {"example.com", DNS_TYPE_SOA},
};
#define NREPLAY (sizeof(replay_q) / sizeof(replay_q[0]))

static void
assert_same(const struct dns_answer *x, const struct dns_answer *y)
{
    size_t i;

    cr_assert_str_eq(x->qname, y->qname);
    cr_assert_eq(x->status, y->status, "%s %s: %s then %s", x->qname,
                 dns_type_name(x->qtype), dns_status_name(x),
                 dns_status_name(y));
    cr_assert_eq(x->rcode, y->rcode);
    if (x->status != DNS_TIMEOUT)
        cr_assert_str_eq(x->detail, y->detail);
    cr_assert_eq(x->nrr, y->nrr, "%s %s", x->qname, dns_type_name(x->qtype));
    for (i = 0; i < x->nrr; i++) {
        cr_assert_eq(x->rr[i].type, y->rr[i].type);
        cr_assert_str_eq(x->rr[i].owner, y->rr[i].owner);
        cr_assert_eq(x->rr[i].pref, y->rr[i].pref);
        cr_assert_arr_eq(x->rr[i].addr, y->rr[i].addr, 16);
        cr_assert_eq(x->rr[i].len, y->rr[i].len);
        if (x->rr[i].len > 0)
            cr_assert_arr_eq(x->rr[i].data, y->rr[i].data, x->rr[i].len);
        cr_assert_eq(x->rr[i].nstr, y->rr[i].nstr);
        if (x->rr[i].nstr > 0)
            cr_assert_arr_eq(x->rr[i].strlens, y->rr[i].strlens,
                             x->rr[i].nstr * sizeof(size_t));
    }
}

static void
replay_against(const char *fixture_path)
{
    const struct dns_answer *first[NREPLAY], *again[NREPLAY];
    char path[] = "/tmp/test_dns_query_XXXXXX";
    struct dns_options opt = {.fixture = fixture_path};
    struct dns_resolver *r2;
    struct pb_err err;
    size_t i;
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    close(fd);
    pb_err_clear(&err);
    cr_assert_eq(dns_resolver_new(&opt, &r, &err), 0, "%s", err.msg);
    dns_query_many(r, replay_q, NREPLAY / 2, first);
    for (i = NREPLAY / 2; i < NREPLAY; i++)
        first[i] = dns_query(r, replay_q[i].name, replay_q[i].type);
    cr_assert_eq(dns_resolver_record(r, path, &err), 0, "%s", err.msg);

    opt.fixture = path;
    cr_assert_eq(dns_resolver_new(&opt, &r2, &err), 0, "%s", err.msg);
    dns_query_many(r2, replay_q, NREPLAY, again);
    for (i = 0; i < NREPLAY; i++)
        assert_same(first[i], again[i]);
    cr_assert_eq(dns_resolver_sent(r2), dns_resolver_sent(r));
    /* Recording the replay gives the same file again. */
    {
        char path2[] = "/tmp/test_dns_query_XXXXXX";
        char *t1, *t2;
        size_t l1, l2;

        fd = mkstemp(path2);
        cr_assert_geq(fd, 0);
        close(fd);
        cr_assert_eq(dns_resolver_record(r2, path2, &err), 0, "%s", err.msg);
        t1 = testdata_read(path, &l1);
        t2 = testdata_read(path2, &l2);
        cr_assert_str_eq(t1, t2);
        free(t1);
        free(t2);
        unlink(path2);
    }
    dns_resolver_free(r2);
    unlink(path);
}

Test(dns_query, recording_replays_the_same_answers)
{
    replay_against(testdata_path("dns/semantics.json"));
}

Test(dns_query, recording_the_product_example_replays_the_same)
{
    replay_against(testdata_path("dns/product-example.json"));
}

Test(dns_query, records_to_stdout, .init = cr_redirect_stdout)
{
    struct pb_err err;

    open_fixture("dns/product-example.json");
    dns_query(r, "half.example.com", DNS_TYPE_TXT);
    dns_query(r, "nowhere.example.com", DNS_TYPE_A);
    dns_query(r, "Alias.Example.com", DNS_TYPE_MX);
    cr_assert_eq(dns_resolver_record(r, "-", &err), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str("{\n"
                            "  \"half.example.com\": {\n"
                            "    \"TXT\": \"TIMEOUT\"\n"
                            "  },\n"
                            "  \"alias.example.com\": {\n"
                            "    \"CNAME\": [\"example.com\"]\n"
                            "  },\n"
                            "  \"example.com\": {\n"
                            "    \"MX\": [{\"preference\": 10, "
                            "\"exchange\": \"mx.example.com\"}]\n"
                            "  }\n"
                            "}\n");
}

/* ------------------------------------------------------------------ */
/* The c-ares back end, on 127.0.0.1 only                              */

TestSuite(dns_ares, .fini = fini, .timeout = 30);

struct server_case {
    char *server;
    bool is_ok;
};

static void
server_cases_free(struct criterion_test_params *crp)
{
    struct server_case *c = crp->params;
    size_t i;

    for (i = 0; i < crp->length; i++)
        cr_free(c[i].server);
    cr_free(c);
}

ParameterizedTestParameters(dns_ares, parses_servers)
{
    static const struct {
        const char *server;
        bool is_ok;
    } cases[] = {
        {"127.0.0.1", true},
        {"127.0.0.1:5353", true},
        {"[::1]", true},
        {"[::1]:53", true},
        {"::1", true},
        {"example.com", false},
        {"127.0.0.1:0", false},
        {"127.0.0.1:65536", false},
        {"127.0.0.1:", false},
        {"127.0.0.1:5x", false},
        {"127.0.0.1:+53", false},
        {"[::1", false},
        {"[::1]x", false},
        {"[127.0.0.1]", false},
        {"", false},
        {"1.2.3.4.5", false},
        {"[::1]:123456", false},
        {"300.0.0.1", false},
    };

    size_t i, n = sizeof(cases) / sizeof(cases[0]);
    struct server_case *c = cr_malloc(n * sizeof(*c));

    for (i = 0; i < n; i++) {
        c[i].server = testdata_param_strdup(cases[i].server);
        c[i].is_ok = cases[i].is_ok;
    }
    return cr_make_param_array(struct server_case, c, n, server_cases_free);
}

ParameterizedTest(struct server_case *c, dns_ares, parses_servers)
{
    struct dns_options opt = {.server = c->server};
    struct pb_err err;
    int rc;

    pb_err_clear(&err);
    rc = dns_resolver_new(&opt, &r, &err);
    if (c->is_ok) {
        cr_assert_eq(rc, 0, "%s: %s", c->server, err.msg);
    } else {
        cr_assert_eq(rc, -1, "%s", c->server);
        cr_assert_null(r);
        cr_assert_eq(err.code, PB_E_USAGE);
        cr_assert_str_eq(err.msg, "bad DNS server: expected IP, IP:PORT, "
                                  "[IPV6] or [IPV6]:PORT");
    }
}

/* A UDP socket on 127.0.0.1 with a kernel-chosen port. */
static int
udp_socket(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    cr_assert_geq(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void
open_server(int port, int timeout_ms, int tries)
{
    char server[32];
    struct dns_options opt = {
        .server = server, .timeout_ms = timeout_ms, .tries = tries};
    struct pb_err err;

    snprintf(server, sizeof(server), "127.0.0.1:%d", port);
    pb_err_clear(&err);
    cr_assert_eq(dns_resolver_new(&opt, &r, &err), 0, "%s", err.msg);
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Answers nothing until it has received `want` queries, then all of them. */
struct fake_server {
    int fd;
    int want;
    int got;
};

static void *
fake_server_run(void *arg)
{
    struct fake_server *f = arg;
    unsigned char q[8][512];
    struct sockaddr_in from[8];
    socklen_t fromlen[8];
    ssize_t n;
    int i;

    while (f->got < f->want) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};

        if (poll(&p, 1, 5000) <= 0)
            return NULL;
        fromlen[f->got] = sizeof(from[0]);
        n = recvfrom(f->fd, q[f->got], sizeof(q[0]) - 32, 0,
                     (struct sockaddr *)&from[f->got], &fromlen[f->got]);
        if (n >= 12)
            f->got++;
    }
    for (i = 0; i < f->got; i++) {
        unsigned char *m = q[i];
        size_t off = 12;
        static const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0,   1, 0, 0,
                                           0,    60,   0, 4, 192, 0, 2};

        while (m[off] != 0)
            off += 1 + m[off];
        off += 5;
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 1;          /* ANCOUNT 1 */
        m[10] = m[11] = 0; /* no OPT in the reply */
        memcpy(m + off, rr, sizeof(rr));
        off += sizeof(rr);
        m[off++] = (unsigned char)(i + 1);
        sendto(f->fd, m, off, 0, (struct sockaddr *)&from[i], fromlen[i]);
    }
    return NULL;
}

Test(dns_ares, puts_every_question_of_a_batch_in_flight_at_once)
{
    static const struct dns_question q[] = {
        {"a.test", DNS_TYPE_A}, {"b.test", DNS_TYPE_A}, {"c.test", DNS_TYPE_A},
        {"d.test", DNS_TYPE_A}, {"e.test", DNS_TYPE_A},
    };
    struct fake_server f = {.want = 5};
    const struct dns_answer *out[5];
    pthread_t t;
    double t0;
    int port, i;

    f.fd = udp_socket(&port);
    open_server(port, 3000, 1);
    cr_assert_eq(pthread_create(&t, NULL, fake_server_run, &f), 0);
    t0 = now_ms();
    dns_query_many(r, q, 5, out);
    /* One at a time, the first would wait for an answer that never came. */
    cr_assert_lt(now_ms() - t0, 2000);
    pthread_join(t, NULL);
    close(f.fd);
    cr_assert_eq(f.got, 5);
    for (i = 0; i < 5; i++) {
        cr_assert_eq(out[i]->status, DNS_OK, "%s: %s", q[i].name,
                     out[i]->detail);
        cr_assert_eq(out[i]->nrr, 1);
        cr_assert_eq(out[i]->rr[0].addr[0], 192);
    }
    cr_assert_eq(dns_resolver_sent(r), 5);
}

Test(dns_ares, times_out_within_timeout_times_tries)
{
    const struct dns_answer *a;
    double t0, took;
    int port, fd = udp_socket(&port);

    open_server(port, 200, 2);
    t0 = now_ms();
    a = dns_query(r, "silent.test", DNS_TYPE_TXT);
    took = now_ms() - t0;
    close(fd);
    cr_assert_eq(a->status, DNS_TIMEOUT, "%s", a->detail);
    cr_assert_eq(a->rcode, -1);
    cr_assert_geq(took, 350);
    cr_assert_lt(took, 1500);
    cr_assert_not_null(strstr(a->detail, "within 400 ms"), "%s", a->detail);
}

Test(dns_ares, reports_a_refused_connection_as_an_error)
{
    const struct dns_answer *a;
    int port, fd = udp_socket(&port);

    close(fd); /* nothing listens there now: ICMP port unreachable */
    open_server(port, 1000, 2);
    a = dns_query(r, "refused.test", DNS_TYPE_A);
    cr_assert_eq(a->status, DNS_ERROR, "%s", dns_status_name(a));
    cr_assert_not_null(strstr(a->detail, "could not reach 127.0.0.1:"), "%s",
                       a->detail);
}

Test(dns_ares, invalid_names_never_reach_the_wire)
{
    int port, fd = udp_socket(&port);
    const struct dns_answer *a;

    open_server(port, 200, 1);
    a = dns_query(r, "no\x01controls.test", DNS_TYPE_A);
    close(fd);
    cr_assert_eq(a->status, DNS_ERROR);
    cr_assert_eq(dns_resolver_sent(r), 0);
}
