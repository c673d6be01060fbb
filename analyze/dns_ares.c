/* SPDX-License-Identifier: MIT */
/*
 * The real DNS back end: c-ares sends the questions (RFC 1035 §4.2.1 UDP
 * with an RFC 6891 EDNS OPT record, again over TCP when the answer comes
 * back truncated, §4.2.2), all of a batch at once, and dns_wire.c parses
 * every answer.  No search list and no hosts file: names are asked as given.
 */
#include "analyze.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>

#include <ares.h>

#include "dns_int.h"
#include "pb_clock.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

#define DNS_CLASS_IN 1

struct dns_ares {
    ares_channel ch;
    int timeout_ms;
    int tries;
    int64_t budget_ms; /* for a whole batch */
    char server[64];   /* who we ask, for details */
};

/* One question in flight. */
struct ares_job {
    const struct dns_ares *d;
    struct dns_answer *a;
    size_t *pending;
};

static int64_t
ares_now_ms(void)
{
    return pb_clock_mono_ms();
}

/* Translate a c-ares outcome without a message into our answer. */
static void
ares_job_status(const struct ares_job *job, int status)
{
    const struct dns_ares *d = job->d;
    struct dns_answer *a = job->a;

    switch (status) {
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED: /* we cancel at the batch deadline */
        dns_answer_set(a, DNS_TIMEOUT, -1, "no answer from %s within %lld ms",
                       d->server, (long long)d->budget_ms);
        return;
    /* These come with the message; if one ever comes without it: */
    case ARES_EFORMERR:
        dns_answer_set(a, DNS_RCODE, 1, "%s", "");
        return;
    case ARES_ESERVFAIL:
        dns_answer_set(a, DNS_RCODE, 2, "%s", "");
        return;
    case ARES_ENOTIMP:
        dns_answer_set(a, DNS_RCODE, 4, "%s", "");
        return;
    case ARES_EREFUSED:
        dns_answer_set(a, DNS_RCODE, 5, "%s", "");
        return;
    case ARES_ENOTFOUND:
        dns_answer_set(a, DNS_NXDOMAIN, 3, "%s", "");
        return;
    case ARES_ENODATA:
        dns_answer_set(a, DNS_OK, 0, "%s", "");
        return;
    case ARES_ECONNREFUSED:
        dns_answer_set(a, DNS_ERROR, -1,
                       "could not reach %s (connection refused)", d->server);
        return;
    case ARES_EBADRESP:
        dns_answer_set(a, DNS_ERROR, -1, "malformed answer from %s", d->server);
        return;
    default:
        dns_answer_set(a, DNS_ERROR, -1, "asking %s failed: c-ares: %s",
                       d->server, ares_strerror(status));
        return;
    }
}

static void
ares_job_done(void *arg, int status, int timeouts, unsigned char *abuf,
              int alen)
{
    struct ares_job *job = arg;

    (void)timeouts;
    (*job->pending)--;
    /* NOERROR without records, NXDOMAIN ... come with the message. */
    if (abuf != NULL && alen > 0)
        dns_wire_parse(abuf, (size_t)alen, job->a);
    else
        ares_job_status(job, status);
}

/*
 * ares_query() reads "\c" as an escaped c; names we pass hold no escapes,
 * so double each backslash (dns_name_check lets "\" through).
 */
static void
ares_name_escape(const char *name, char *out, size_t size)
{
    size_t o = 0;

    for (; *name != '\0' && o + 3 <= size; name++) {
        if (*name == '\\')
            out[o++] = '\\';
        out[o++] = *name;
    }
    out[o] = '\0';
}

/* Wait for the sockets or the next c-ares timer, at most left_ms. */
static void
ares_wait(struct dns_ares *d, int64_t left_ms)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd pfd[ARES_GETSOCK_MAXNUM];
    struct timeval max, tv, *next;
    unsigned bits;
    int i, nfds = 0, ms;

    /*
     * ARES_GETSOCK_WRITABLE() shifts an int 1 into the sign bit for the
     * last socket (undefined); test the bits as unsigned instead.
     */
    bits = (unsigned)ares_getsock(d->ch, socks, ARES_GETSOCK_MAXNUM);
    for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        short events = 0;

        if (bits & 1u << i)
            events |= POLLIN;
        if (bits & 1u << (i + ARES_GETSOCK_MAXNUM))
            events |= POLLOUT;
        if (events == 0)
            continue;
        pfd[nfds].fd = socks[i];
        pfd[nfds].events = events;
        pfd[nfds].revents = 0;
        nfds++;
    }
    if (left_ms > 60000)
        left_ms = 60000;
    max.tv_sec = (time_t)(left_ms / 1000);
    max.tv_usec = (suseconds_t)(left_ms % 1000 * 1000);
    next = ares_timeout(d->ch, &max, &tv);
    ms = (int)(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
    if (poll(pfd, (nfds_t)nfds, ms) <= 0) {
        /* Timers only (EINTR included): let c-ares retry or give up. */
        ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        return;
    }
    for (i = 0; i < nfds; i++) {
        ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

        if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
            rfd = pfd[i].fd;
        if (pfd[i].revents & POLLOUT)
            wfd = pfd[i].fd;
        if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD)
            ares_process_fd(d->ch, rfd, wfd);
    }
}

static void
ares_answer_many(void *state, struct dns_answer *const *a, size_t n)
{
    struct dns_ares *d = state;
    struct ares_job *jobs = pb_xcalloc(n, sizeof(*jobs));
    char name[2 * PB_LIMIT_DNS_NAME + 1];
    size_t i, pending = n;
    int64_t deadline = ares_now_ms() + d->budget_ms;

    for (i = 0; i < n; i++) {
        jobs[i].d = d;
        jobs[i].a = a[i];
        jobs[i].pending = &pending;
        ares_name_escape(a[i]->qname, name, sizeof(name));
        ares_query(d->ch, name, DNS_CLASS_IN, a[i]->qtype, ares_job_done,
                   &jobs[i]);
    }
    while (pending > 0) {
        int64_t left = deadline - ares_now_ms();

        if (left <= 0) {
            ares_cancel(d->ch); /* every job ends with ARES_ECANCELLED */
            break;
        }
        ares_wait(d, left);
    }
    free(jobs);
}

static void
ares_backend_free(void *state)
{
    struct dns_ares *d = state;

    if (d == NULL)
        return;
    ares_destroy(d->ch);
    ares_library_cleanup();
    free(d);
}

static const struct dns_backend_ops ares_ops = {
    "c-ares",
    ares_answer_many,
    ares_backend_free,
};

/*
 * "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" with HOST an IP address (a
 * bare IPv6 address is taken whole) into the c-ares form "IP:PORT" or
 * "[IP]:PORT".
 */
static int
ares_server_parse(const char *s, char *csv, size_t size, struct pb_err *err)
{
    char host[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    const char *port = NULL, *colon, *end;
    size_t len = strlen(s), hlen;
    unsigned long p = 53;
    int family = AF_INET;

    if (s[0] == '[') {
        end = memchr(s, ']', len);
        if (end == NULL || (end[1] != '\0' && end[1] != ':'))
            goto bad;
        if (end[1] == ':')
            port = end + 2;
        s++;
        hlen = (size_t)(end - s);
        family = AF_INET6;
    } else {
        colon = strchr(s, ':');
        hlen = len;
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            port = colon + 1;
            hlen = (size_t)(colon - s);
        } else if (colon != NULL) {
            family = AF_INET6;
        }
    }
    if (hlen == 0 || hlen >= sizeof(host))
        goto bad;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (inet_pton(family, host, bin) != 1)
        goto bad;
    if (port != NULL) {
        size_t i, plen = strlen(port);

        if (plen == 0 || plen > 5)
            goto bad;
        for (i = 0; i < plen; i++)
            if (port[i] < '0' || port[i] > '9')
                goto bad;
        p = strtoul(port, NULL, 10);
        if (p == 0 || p > 65535)
            goto bad;
    }
    snprintf(csv, size, family == AF_INET6 ? "[%s]:%lu" : "%s:%lu", host, p);
    return 0;
bad:
    pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
               "bad DNS server: expected IP, IP:PORT, [IPV6] or [IPV6]:PORT");
    pb_err_evidence(err, s, strlen(s));
    return -1;
}

int
dns_ares_new(const struct dns_options *opt, struct dns_backend *out,
             struct pb_err *err)
{
    struct ares_options o;
    struct ares_addr_port_node *servers = NULL, *sv;
    int64_t nservers = 0;
    struct dns_ares *d = NULL;
    char csv[INET6_ADDRSTRLEN + 16];
    int rc, mask, ret = -1;

    out->ops = NULL;
    out->state = NULL;
    if (opt->server != NULL &&
        ares_server_parse(opt->server, csv, sizeof(csv), err) == -1)
        return -1;
    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS)
        return pb_err_set(err, PB_STAGE_DNS, PB_E_INTERNAL,
                          "cannot start c-ares: %s", ares_strerror(rc));
    d = pb_xcalloc(1, sizeof(*d));
    d->timeout_ms =
        opt->timeout_ms > 0 ? opt->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
    d->tries = opt->tries > 0 ? opt->tries : DNS_DEFAULT_TRIES;
    memset(&o, 0, sizeof(o));
    /*
     * ares_query() skips the search list already; NOSEARCH says it twice.
     * NOCHECKRESP: without it c-ares 1.18 drops a SERVFAIL, NOTIMP or
     * REFUSED message, tries the other servers and reports "connection
     * refused"; we want the response code the server gave.
     */
    /* STAYOPEN: keep the UDP socket between queries; without it c-ares
     * opened and closed one for most questions of a batch audit */
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS |
              ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN;
    o.timeout = d->timeout_ms;
    o.tries = d->tries;
    o.ednspsz = DNS_EDNS_UDP_SIZE;
    mask =
        ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ;
    rc = ares_init_options(&d->ch, &o, mask);
    if (rc != ARES_SUCCESS) {
        pb_err_set(err, PB_STAGE_DNS, PB_E_INTERNAL, "cannot start c-ares: %s",
                   ares_strerror(rc));
        ares_library_cleanup();
        free(d);
        return -1;
    }
    if (opt->server != NULL) {
        rc = ares_set_servers_ports_csv(d->ch, csv);
        if (rc != ARES_SUCCESS) {
            pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                       "c-ares refused DNS server %s: %s", csv,
                       ares_strerror(rc));
            goto out;
        }
        snprintf(d->server, sizeof(d->server), "%s", csv);
    } else {
        snprintf(d->server, sizeof(d->server), "the system resolvers");
    }
    if (ares_get_servers_ports(d->ch, &servers) == ARES_SUCCESS)
        for (sv = servers; sv != NULL; sv = sv->next)
            nservers++;
    ares_free_data(servers);
    /*
     * c-ares doubles the wait on each round over the servers; bound a
     * batch by what the options promise: timeout per try, tries per server.
     */
    d->budget_ms =
        (int64_t)d->timeout_ms * d->tries * (nservers > 0 ? nservers : 1);
    out->ops = &ares_ops;
    out->state = d;
    d = NULL;
    ret = 0;
out:
    ares_backend_free(d);
    return ret;
}
