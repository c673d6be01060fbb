/* SPDX-License-Identifier: MIT */
/*
 * IMAP client (RFC 3501, IDLE RFC 2177, UIDPLUS RFC 4315, SPECIAL-USE RFC
 * 6154, SASL-IR RFC 4959, LITERAL+ RFC 7888) on libetpan's parser over a
 * stream of our own: TCP and TLS through OpenSSL with absolute deadlines,
 * and a framing watch that refuses oversized literals, lines and
 * responses before libetpan allocates for them.  The protocol log is
 * redacted at capture.  No COMPRESS, no CONDSTORE, no UTF8=ACCEPT.
 */
#include "imap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <libetpan/libetpan.h>

#include "pb_clock.h"
#include "pb_buf.h"
#include "pb_lazy.h"
#include "pb_log.h"
#include "pb_xalloc.h"

/*
 * libetpan, loaded on first use (pb_lazy.h).  The macros are function-like:
 * the stream driver's members of the same names stay as they are.
 */
#define ETPAN_FUNCS(X)                                  \
    X(mailimap_capability)                              \
    X(mailimap_capability_data_free)                    \
    X(mailimap_connect)                                 \
    X(mailimap_examine)                                 \
    X(mailimap_expunge)                                 \
    X(mailimap_fetch_att_free)                          \
    X(mailimap_fetch_att_new_body_peek_section)         \
    X(mailimap_fetch_att_new_body_peek_section_partial) \
    X(mailimap_fetch_att_new_internaldate)              \
    X(mailimap_fetch_att_new_uid)                       \
    X(mailimap_fetch_list_free)                         \
    X(mailimap_fetch_type_free)                         \
    X(mailimap_fetch_type_new_fetch_att_list_add)       \
    X(mailimap_fetch_type_new_fetch_att_list_empty)     \
    X(mailimap_flag_free)                               \
    X(mailimap_flag_list_add)                           \
    X(mailimap_flag_list_free)                          \
    X(mailimap_flag_list_new_empty)                     \
    X(mailimap_flag_new_deleted)                        \
    X(mailimap_free)                                    \
    X(mailimap_idle)                                    \
    X(mailimap_idle_done)                               \
    X(mailimap_list)                                    \
    X(mailimap_list_result_free)                        \
    X(mailimap_login)                                   \
    X(mailimap_logout)                                  \
    X(mailimap_new)                                     \
    X(mailimap_noop)                                    \
    X(mailimap_parse_response)                          \
    X(mailimap_read_line)                               \
    X(mailimap_response_free)                           \
    X(mailimap_section_free)                            \
    X(mailimap_section_new)                             \
    X(mailimap_section_new_header)                      \
    X(mailimap_select)                                  \
    X(mailimap_send_current_tag)                        \
    X(mailimap_set_add_interval)                        \
    X(mailimap_set_free)                                \
    X(mailimap_set_new_empty)                           \
    X(mailimap_set_new_single)                          \
    X(mailimap_starttls)                                \
    X(mailimap_store_att_flags_free)                    \
    X(mailimap_store_att_flags_new_add_flags_silent)    \
    X(mailimap_uid_expunge)                             \
    X(mailimap_uid_fetch)                               \
    X(mailimap_uid_store)                               \
    X(mailstream_close)                                 \
    X(mailstream_flush)                                 \
    X(mailstream_get_low)                               \
    X(mailstream_low_free)                              \
    X(mailstream_low_new)                               \
    X(mailstream_new)                                   \
    X(mailstream_read)                                  \
    X(mailstream_set_low)                               \
    X(mailstream_write)
PB_LAZY_TABLE(etpan, PB_SONAME_ETPAN, ETPAN_FUNCS)
#define mailimap_capability(...) (etpan()->mailimap_capability(__VA_ARGS__))
#define mailimap_capability_data_free(...) \
    (etpan()->mailimap_capability_data_free(__VA_ARGS__))
#define mailimap_connect(...) (etpan()->mailimap_connect(__VA_ARGS__))
#define mailimap_examine(...) (etpan()->mailimap_examine(__VA_ARGS__))
#define mailimap_expunge(...) (etpan()->mailimap_expunge(__VA_ARGS__))
#define mailimap_fetch_att_free(...) \
    (etpan()->mailimap_fetch_att_free(__VA_ARGS__))
#define mailimap_fetch_att_new_body_peek_section(...) \
    (etpan()->mailimap_fetch_att_new_body_peek_section(__VA_ARGS__))
#define mailimap_fetch_att_new_body_peek_section_partial(...) \
    (etpan()->mailimap_fetch_att_new_body_peek_section_partial(__VA_ARGS__))
#define mailimap_fetch_att_new_internaldate(...) \
    (etpan()->mailimap_fetch_att_new_internaldate(__VA_ARGS__))
#define mailimap_fetch_att_new_uid(...) \
    (etpan()->mailimap_fetch_att_new_uid(__VA_ARGS__))
#define mailimap_fetch_list_free(...) \
    (etpan()->mailimap_fetch_list_free(__VA_ARGS__))
#define mailimap_fetch_type_free(...) \
    (etpan()->mailimap_fetch_type_free(__VA_ARGS__))
#define mailimap_fetch_type_new_fetch_att_list_add(...) \
    (etpan()->mailimap_fetch_type_new_fetch_att_list_add(__VA_ARGS__))
#define mailimap_fetch_type_new_fetch_att_list_empty(...) \
    (etpan()->mailimap_fetch_type_new_fetch_att_list_empty(__VA_ARGS__))
#define mailimap_flag_free(...) (etpan()->mailimap_flag_free(__VA_ARGS__))
#define mailimap_flag_list_add(...) \
    (etpan()->mailimap_flag_list_add(__VA_ARGS__))
#define mailimap_flag_list_free(...) \
    (etpan()->mailimap_flag_list_free(__VA_ARGS__))
#define mailimap_flag_list_new_empty(...) \
    (etpan()->mailimap_flag_list_new_empty(__VA_ARGS__))
#define mailimap_flag_new_deleted(...) \
    (etpan()->mailimap_flag_new_deleted(__VA_ARGS__))
#define mailimap_free(...)      (etpan()->mailimap_free(__VA_ARGS__))
#define mailimap_idle(...)      (etpan()->mailimap_idle(__VA_ARGS__))
#define mailimap_idle_done(...) (etpan()->mailimap_idle_done(__VA_ARGS__))
#define mailimap_list(...)      (etpan()->mailimap_list(__VA_ARGS__))
#define mailimap_list_result_free(...) \
    (etpan()->mailimap_list_result_free(__VA_ARGS__))
#define mailimap_login(...)  (etpan()->mailimap_login(__VA_ARGS__))
#define mailimap_logout(...) (etpan()->mailimap_logout(__VA_ARGS__))
#define mailimap_new(...)    (etpan()->mailimap_new(__VA_ARGS__))
#define mailimap_noop(...)   (etpan()->mailimap_noop(__VA_ARGS__))
#define mailimap_parse_response(...) \
    (etpan()->mailimap_parse_response(__VA_ARGS__))
#define mailimap_read_line(...) (etpan()->mailimap_read_line(__VA_ARGS__))
#define mailimap_response_free(...) \
    (etpan()->mailimap_response_free(__VA_ARGS__))
#define mailimap_section_free(...) (etpan()->mailimap_section_free(__VA_ARGS__))
#define mailimap_section_new(...)  (etpan()->mailimap_section_new(__VA_ARGS__))
#define mailimap_section_new_header(...) \
    (etpan()->mailimap_section_new_header(__VA_ARGS__))
#define mailimap_select(...) (etpan()->mailimap_select(__VA_ARGS__))
#define mailimap_send_current_tag(...) \
    (etpan()->mailimap_send_current_tag(__VA_ARGS__))
#define mailimap_set_add_interval(...) \
    (etpan()->mailimap_set_add_interval(__VA_ARGS__))
#define mailimap_set_free(...) (etpan()->mailimap_set_free(__VA_ARGS__))
#define mailimap_set_new_empty(...) \
    (etpan()->mailimap_set_new_empty(__VA_ARGS__))
#define mailimap_set_new_single(...) \
    (etpan()->mailimap_set_new_single(__VA_ARGS__))
#define mailimap_starttls(...) (etpan()->mailimap_starttls(__VA_ARGS__))
#define mailimap_store_att_flags_free(...) \
    (etpan()->mailimap_store_att_flags_free(__VA_ARGS__))
#define mailimap_store_att_flags_new_add_flags_silent(...) \
    (etpan()->mailimap_store_att_flags_new_add_flags_silent(__VA_ARGS__))
#define mailimap_uid_expunge(...) (etpan()->mailimap_uid_expunge(__VA_ARGS__))
#define mailimap_uid_fetch(...)   (etpan()->mailimap_uid_fetch(__VA_ARGS__))
#define mailimap_uid_store(...)   (etpan()->mailimap_uid_store(__VA_ARGS__))
#define mailstream_close(...)     (etpan()->mailstream_close(__VA_ARGS__))
#define mailstream_flush(...)     (etpan()->mailstream_flush(__VA_ARGS__))
#define mailstream_get_low(...)   (etpan()->mailstream_get_low(__VA_ARGS__))
#define mailstream_low_free(...)  (etpan()->mailstream_low_free(__VA_ARGS__))
#define mailstream_low_new(...)   (etpan()->mailstream_low_new(__VA_ARGS__))
#define mailstream_new(...)       (etpan()->mailstream_new(__VA_ARGS__))
#define mailstream_read(...)      (etpan()->mailstream_read(__VA_ARGS__))
#define mailstream_set_low(...)   (etpan()->mailstream_set_low(__VA_ARGS__))
#define mailstream_write(...)     (etpan()->mailstream_write(__VA_ARGS__))

#define DEFAULT_CONNECT_MS 15000
#define DEFAULT_COMMAND_MS 30000
/* mailstream buffer size (both directions) */
#define STREAM_BUFFER 8192
/* Literal bodies up to this size appear in the log; longer ones as
 * "{N octets}" (imap.h). */
#define LOG_LITERAL_INLINE 200
/* Raw octets of one line kept for the log, and for evidence. */
#define LOG_RAW_MAX  1024
#define EVIDENCE_RAW 400
/* UIDs per STORE / EXPUNGE command: Dovecot takes command lines of 64 KB
 * (imap_max_line_length), 200 ranges stay far below. */
#define DELETE_BATCH 200
/* SASL continuations answered before we give up on an AUTHENTICATE. */
#define SASL_ROUNDS 3

/* One line being captured for the log (or evidence): the first octets and
 * how many there were in all. */
struct line_acc {
    char raw[LOG_RAW_MAX];
    size_t len;
    size_t total;
};

/* The framing watch over the server's bytes (see scan_server). */
struct scan {
    uint64_t lit_left;  /* octets of a literal still to come */
    bool is_lit_inline; /* its octets go to the log */
    char head[48];      /* the start of the logical line: its class */
    size_t head_len;
    size_t line_len; /* this physical line, literals excluded */
    size_t words;    /* spaces in the logical line outside quotes */
    int depth;       /* parentheses open */
    int max_depth;
    bool in_quote;
    bool is_escaped; /* backslash inside a quoted string */
    int bracket;     /* '[' not yet closed (resp-text-code) */
    /* a literal announcement "{N}" or "{N+}" at the end of the line */
    int brace; /* 0 none, 1 digits, 2 after '+', 3 closed, 4 CR */
    uint64_t brace_num;
    size_t brace_digits;
    char ev[EVIDENCE_RAW]; /* the logical line without literals */
    size_t ev_len;
};

struct imap_conn {
    char label[300]; /* "imap HOST:PORT" */
    char host[256];
    unsigned port;
    unsigned connect_ms;
    unsigned command_ms;
    bool is_insecure;

    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    struct imap_tls_info tls;

    mailimap *imap;
    mailstream *stream;   /* ours until mailimap_connect adopts it */
    bool is_readonly;     /* EXAMINE, not SELECT */
    bool is_logout;       /* LOGOUT sent: its BYE is expected */
    unsigned long n_news; /* "* N EXISTS" and "* N RECENT" lines seen */

    /* the command in flight */
    int64_t deadline_ms; /* CLOCK_MONOTONIC */
    unsigned wait_ms;    /* what the deadline was, for messages */
    enum pb_stage stage;
    char what[64]; /* "reply to UID FETCH", "greeting" */
    size_t resp_bytes;
    size_t resp_lines;

    /* set by the stream: the first failure, and then nothing more */
    bool is_broken;
    bool has_io_err;
    struct pb_err io_err;

    struct scan scan;
    char tag_line[EVIDENCE_RAW]; /* the tagged reply to the command */
    size_t tag_line_len;
    char bye_line[EVIDENCE_RAW]; /* a BYE during the command */
    size_t bye_line_len;
    char last_line[EVIDENCE_RAW];
    size_t last_line_len;

    /* capabilities (after login) */
    bool has_idle;
    bool has_uidplus;
    bool has_special_use;
    bool has_sasl_ir;
    bool has_literal_plus;

    /* protocol log */
    char *log[IMAP_LOG_LINES];
    size_t nlog;
    struct line_acc s_acc;
    struct line_acc c_acc;
    unsigned suppress_client; /* client lines logged by us, redacted */
};

static int64_t
now_ms(void)
{
    return pb_clock_mono_ms();
}

/* ------------------------------------------------------------------ */
/* libetpan's lists, NULL-safe                                         */

/*
 * libetpan 1.9.4's IMAP parser frees lists it never made on some error
 * paths: a server line "* OK [PERMANENTFLAGS (%)]" (nothing parsable
 * after the "(") ends in clist_foreach(NULL, ...), a crash.  Its
 * calls go through the PLT, so these definitions, the same code with a
 * NULL check, take the library's place in the whole process (as a
 * program's malloc would).  libetpan is loaded with dlopen() (pb_lazy.h),
 * so the executable exports them by name (pb_probe's link options).
 */
void
clist_foreach(clist *lst, clist_func func, void *data)
{
    if (lst == NULL)
        return;
    for (clistiter *cur = lst->first; cur != NULL; cur = cur->next)
        func(cur->data, data);
}

void
clist_free(clist *lst)
{
    clistcell *cur;

    if (lst == NULL)
        return;
    cur = lst->first;
    while (cur != NULL) {
        clistcell *next = cur->next;

        free(cur);
        cur = next;
    }
    free(lst);
}

/* ------------------------------------------------------------------ */
/* The protocol log                                                    */

static void
log_push(struct imap_conn *c, char dir, const char *p, size_t len, size_t total)
{
    struct timespec ts;
    struct tm tm;
    struct pb_buf b;
    char *line;

    /* the line without its CRLF */
    if (len > 0 && len == total && p[len - 1] == '\n') {
        len--;
        total--;
        if (len > 0 && p[len - 1] == '\r') {
            len--;
            total--;
        }
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    pb_buf_init(&b, 4 * LOG_RAW_MAX + 128);
    if (pb_buf_addf(&b, "%02d:%02d:%02d.%03d %c: ", tm.tm_hour, tm.tm_min,
                    tm.tm_sec, (int)(ts.tv_nsec / 1000000), dir) < 0 ||
        pb_buf_add_escaped(&b, p, len) < 0 ||
        (total > len && pb_buf_addf(&b, "... (%zu octets)", total) < 0))
        pb_panic("imap: a log line over its own bound");
    line = pb_buf_take(&b, NULL);
    log_debug("%s %s", c->label, line);
    if (c->nlog == IMAP_LOG_LINES) {
        free(c->log[0]);
        memmove(c->log, c->log + 1, (IMAP_LOG_LINES - 1) * sizeof(c->log[0]));
        c->nlog--;
    }
    c->log[c->nlog++] = line;
}

static void
acc_add(struct line_acc *a, const void *p, size_t len)
{
    size_t room = sizeof(a->raw) - a->len;

    if (len > room) {
        memcpy(a->raw + a->len, p, room);
        a->len += room;
    } else {
        memcpy(a->raw + a->len, p, len);
        a->len += len;
    }
    a->total += len;
}

static void
acc_flush(struct imap_conn *c, struct line_acc *a, char dir)
{
    if (a->total == 0)
        return;
    log_push(c, dir, a->raw, a->len, a->total);
    a->len = 0;
    a->total = 0;
}

/* A client line written by us in place of what was sent (redaction). */
static void
log_client_text(struct imap_conn *c, const char *text)
{
    acc_flush(c, &c->c_acc, 'C');
    log_push(c, 'C', text, strlen(text), strlen(text));
}

/* Client bytes, as the stream writes them: one log line per line, lines
 * we logged ourselves (suppress_client) skipped unseen. */
static void
scan_client(struct imap_conn *c, const unsigned char *p, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        if (c->suppress_client > 0) {
            if (p[i] == '\n')
                c->suppress_client--;
            start = i + 1;
            continue;
        }
        if (p[i] == '\n') {
            acc_add(&c->c_acc, p + start, i + 1 - start);
            acc_flush(c, &c->c_acc, 'C');
            start = i + 1;
        }
    }
    if (start < n && c->suppress_client == 0)
        acc_add(&c->c_acc, p + start, n - start);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* Fail the stream: the first failure is kept, every later read and
 * write fails at once. */
__attribute__((format(printf, 5, 6))) static void
io_fail(struct imap_conn *c, enum pb_code code, const void *ev, size_t evlen,
        const char *fmt, ...)
{
    char msg[sizeof(c->io_err.msg)];
    va_list ap;

    c->is_broken = true;
    if (c->has_io_err)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pb_err_clear(&c->io_err);
    pb_err_set(&c->io_err, c->stage, code, "%s", msg);
    if (ev != NULL && evlen > 0)
        pb_err_evidence(&c->io_err, ev, evlen);
    c->has_io_err = true;
    /* what the server had sent of its line goes to the log */
    if (c->s_acc.total > 0) {
        acc_add(&c->s_acc, " [incomplete]", 13);
        acc_flush(c, &c->s_acc, 'S');
    }
}

static void
io_timeout(struct imap_conn *c)
{
    /* what the server had sent of its line is the evidence */
    io_fail(c, PB_E_TIMEOUT, c->scan.ev, c->scan.ev_len,
            "no complete %s within %u ms", c->what, c->wait_ms);
}

/* err from the stream's failure, with our label. */
static int
conn_fail(const struct imap_conn *c, struct pb_err *err)
{
    if (err == NULL)
        return -1;
    *err = c->io_err;
    return pb_err_prefix(err, c->label);
}

__attribute__((format(printf, 7, 8))) static int
conn_err(struct imap_conn *c, struct pb_err *err, enum pb_stage stage,
         enum pb_code code, const void *ev, size_t evlen, const char *fmt, ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pb_err_clear(err);
    pb_err_set(err, stage, code, "%s", msg);
    if (ev != NULL && evlen > 0)
        pb_err_evidence(err, ev, evlen);
    return pb_err_prefix(err, c->label);
}

/* The drained OpenSSL error queue, for a message. */
static void
tls_errors(char *dst, size_t size)
{
    unsigned long e;
    size_t used = 0;

    dst[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        int n;

        ERR_error_string_n(e, one, sizeof(one));
        if (used + 3 >= size)
            continue;
        n = snprintf(dst + used, size - used, "%s%s", used ? "; " : "", one);
        if (n < 0 || (size_t)n >= size - used)
            used = size - 1;
        else
            used += (size_t)n;
    }
    if (dst[0] == '\0')
        snprintf(dst, size, "no detail from OpenSSL");
}

/*
 * A libetpan failure r of the command in flight as err.  The stream's own
 * failure (deadline, limit, connection lost) wins: libetpan only saw a
 * read fail.  Otherwise a tagged NO (the command's own error code) is
 * PB_E_PERMFAIL with the server's line; anything that leaves the
 * protocol out of step breaks the connection.
 */
static int
etpan_fail(struct imap_conn *c, int r, const char *cmd, struct pb_err *err)
{
    if (c->has_io_err)
        return conn_fail(c, err);
    /* a BYE during the command explains whatever libetpan made of it */
    if (c->bye_line_len > 0 && r != MAILIMAP_ERROR_MEMORY &&
        r != MAILIMAP_ERROR_BAD_STATE) {
        c->is_broken = true;
        return conn_err(c, err, c->stage, PB_E_NETWORK, c->bye_line,
                        c->bye_line_len, "the server said BYE during the %s",
                        c->what);
    }
    switch (r) {
    case MAILIMAP_ERROR_STREAM:
        c->is_broken = true;
        return conn_err(c, err, c->stage, PB_E_NETWORK, c->bye_line,
                        c->bye_line_len, "connection lost during the %s",
                        c->what);
    case MAILIMAP_ERROR_PARSE:
        c->is_broken = true;
        return conn_err(c, err, c->stage, PB_E_SYNTAX, c->last_line,
                        c->last_line_len, "cannot parse the %s", c->what);
    case MAILIMAP_ERROR_FATAL:
        c->is_broken = true;
        return conn_err(c, err, c->stage, PB_E_NETWORK, c->bye_line,
                        c->bye_line_len, "the server said BYE during the %s",
                        c->what);
    case MAILIMAP_ERROR_PROTOCOL: {
        const char *sp = memchr(c->tag_line, ' ', c->tag_line_len);

        if (sp != NULL && (size_t)(c->tag_line + c->tag_line_len - sp) >= 4 &&
            strncasecmp(sp + 1, "BAD", 3) == 0)
            return conn_err(c, err, c->stage, PB_E_PERMFAIL, c->tag_line,
                            c->tag_line_len, "the server answered BAD to %s",
                            cmd);
        c->is_broken = true;
        return conn_err(c, err, c->stage, PB_E_SYNTAX, c->last_line,
                        c->last_line_len,
                        "the reply to %s does not match the command", cmd);
    }
    case MAILIMAP_ERROR_MEMORY:
        c->is_broken = true;
        return conn_err(c, err, c->stage, PB_E_INTERNAL, NULL, 0,
                        "libetpan ran out of memory during the %s", c->what);
    case MAILIMAP_ERROR_BAD_STATE:
        return conn_err(c, err, c->stage, PB_E_INTERNAL, NULL, 0,
                        "%s is not valid in this connection state", cmd);
    default:
        return conn_err(c, err, c->stage, PB_E_PERMFAIL, c->tag_line,
                        c->tag_line_len, "the server refused %s", cmd);
    }
}

/* ------------------------------------------------------------------ */
/* The framing watch                                                   */

static void
copy_line(char *dst, size_t *dst_len, const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    memcpy(dst, p, len);
    *dst_len = len;
}

static bool
has_prefix_ci(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && strncasecmp(p, prefix, n) == 0;
}

/* Status responses and continuation requests end in free text (resp-text,
 * RFC 3501 §9), where "{5}" at the end is text, not a literal. */
static bool
is_text_line(const struct scan *s)
{
    static const char *const words[] = {"OK ", "NO ", "BAD ", "BYE ",
                                        "PREAUTH "};
    const char *sp;
    size_t rest;

    if (s->head_len > 0 && s->head[0] == '+')
        return true;
    sp = memchr(s->head, ' ', s->head_len);
    if (sp == NULL)
        return false;
    sp++;
    rest = (size_t)(s->head + s->head_len - sp);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);

        /* "* OK" at the very end of the line has no space: accept it */
        if (has_prefix_ci(sp, rest, words[i]) ||
            (rest == n - 1 && strncasecmp(sp, words[i], n - 1) == 0))
            return true;
    }
    return false;
}

/* "* N EXISTS" (word EXISTS) and the like. */
static bool
is_untagged_count(const char *p, size_t len, const char *word)
{
    size_t i = 2, wl = strlen(word);

    if (len < 4 || p[0] != '*' || p[1] != ' ')
        return false;
    while (i < len && p[i] >= '0' && p[i] <= '9')
        i++;
    if (i == 2 || i >= len || p[i] != ' ')
        return false;
    i++;
    return len - i >= wl && strncasecmp(p + i, word, wl) == 0 &&
           (len - i == wl || p[i + wl] == '\r' || p[i + wl] == '\n');
}

/*
 * The end of a logical line: keep it as evidence and in the log.  A BYE
 * ends the connection (RFC 3501 §7.1.5: the server is about to close
 * it): -1, the stream fails at once instead of waiting for the close,
 * except when LOGOUT asked for it.
 */
static int
line_end(struct imap_conn *c)
{
    struct scan *s = &c->scan;
    bool is_bye = has_prefix_ci(s->ev, s->ev_len, "* BYE");
    char tag[16];
    int n;

    copy_line(c->last_line, &c->last_line_len, s->ev, s->ev_len);
    if (is_untagged_count(s->ev, s->ev_len, "EXISTS") ||
        is_untagged_count(s->ev, s->ev_len, "RECENT"))
        c->n_news++;
    if (is_bye)
        copy_line(c->bye_line, &c->bye_line_len, s->ev, s->ev_len);
    n = c->imap != NULL ? snprintf(tag, sizeof(tag), "%d ", c->imap->imap_tag)
                        : 0;
    if (n > 0 && (size_t)n < sizeof(tag) &&
        has_prefix_ci(s->ev, s->ev_len, tag))
        copy_line(c->tag_line, &c->tag_line_len, s->ev, s->ev_len);
    acc_flush(c, &c->s_acc, 'S');
    memset(s, 0, sizeof(*s));
    if (!is_bye || c->is_logout)
        return 0;
    if (c->stage == PB_STAGE_GREETING)
        io_fail(c, PB_E_TEMPFAIL, c->bye_line, c->bye_line_len,
                "the server refused the connection with a BYE greeting");
    else
        io_fail(c, PB_E_NETWORK, c->bye_line, c->bye_line_len,
                "the server said BYE during the %s", c->what);
    return -1;
}

/*
 * Watch the server's bytes as the stream hands them to libetpan: line
 * ends, literal announcements "{N}" / "{N+}" at the end of a line (their
 * octets skipped, so a message body is never read as framing), quoting
 * and nesting.  Returns -1 (the stream failed with PB_E_LIMIT) when a
 * literal is announced over IMAP_LIMIT_LITERAL, before libetpan could
 * allocate for it, or a line, a response or its nesting is over its limit.
 */
static int
scan_server(struct imap_conn *c, const unsigned char *p, size_t n)
{
    struct scan *s = &c->scan;
    size_t i = 0;

    c->resp_bytes += n;
    if (c->resp_bytes > IMAP_LIMIT_RESPONSE) {
        io_fail(c, PB_E_LIMIT, NULL, 0,
                "the %s is over %u octets (IMAP_LIMIT_RESPONSE)", c->what,
                IMAP_LIMIT_RESPONSE);
        return -1;
    }
    while (i < n) {
        unsigned char b;

        if (s->lit_left > 0) {
            size_t take = n - i;

            if (take > s->lit_left)
                take = (size_t)s->lit_left;
            if (s->is_lit_inline)
                acc_add(&c->s_acc, p + i, take);
            s->lit_left -= take;
            i += take;
            continue;
        }
        b = p[i++];
        if (s->line_len++ >= IMAP_LIMIT_LINE) {
            io_fail(c, PB_E_LIMIT, s->ev, s->ev_len,
                    "a line of the %s is over %u octets (IMAP_LIMIT_LINE)",
                    c->what, IMAP_LIMIT_LINE);
            return -1;
        }
        acc_add(&c->s_acc, &b, 1);
        if (s->head_len < sizeof(s->head))
            s->head[s->head_len++] = (char)b;
        if (s->ev_len < sizeof(s->ev))
            s->ev[s->ev_len++] = (char)b;

        if (b == '\n') {
            bool is_lit = s->brace >= 3;
            bool is_text = is_text_line(s);

            if (++c->resp_lines > IMAP_LIMIT_RESPONSE_LINES) {
                io_fail(c, PB_E_LIMIT, s->ev, s->ev_len,
                        "the %s has more than %u lines "
                        "(IMAP_LIMIT_RESPONSE_LINES)",
                        c->what, IMAP_LIMIT_RESPONSE_LINES);
                return -1;
            }
            if (!is_text && s->max_depth > IMAP_LIMIT_NESTING) {
                io_fail(c, PB_E_LIMIT, s->ev, s->ev_len,
                        "the %s nests parentheses %d deep "
                        "(IMAP_LIMIT_NESTING %d)",
                        c->what, s->max_depth, IMAP_LIMIT_NESTING);
                return -1;
            }
            if (!is_text && s->words > IMAP_LIMIT_WORDS) {
                io_fail(c, PB_E_LIMIT, s->ev, s->ev_len,
                        "a line of the %s has more than %u words "
                        "(IMAP_LIMIT_WORDS)",
                        c->what, (unsigned)IMAP_LIMIT_WORDS);
                return -1;
            }
            /* resp-text has no literal, except inside a resp-text-code
               (BADCHARSET takes astrings) */
            if (is_lit && (!is_text || s->bracket > 0)) {
                char note[64];

                if (s->brace_digits > 10 || s->brace_num > IMAP_LIMIT_LITERAL) {
                    char num[32];

                    if (s->brace_digits > 10)
                        snprintf(num, sizeof(num), "more than 10^10");
                    else
                        snprintf(num, sizeof(num), "%llu",
                                 (unsigned long long)s->brace_num);
                    io_fail(c, PB_E_LIMIT, s->ev, s->ev_len,
                            "literal of %s octets over the limit of %u "
                            "(IMAP_LIMIT_LITERAL) in the %s",
                            num, IMAP_LIMIT_LITERAL, c->what);
                    return -1;
                }
                s->lit_left = s->brace_num;
                s->is_lit_inline = s->brace_num <= LOG_LITERAL_INLINE;
                if (!s->is_lit_inline) {
                    snprintf(note, sizeof(note), "{%llu octets}",
                             (unsigned long long)s->brace_num);
                    acc_add(&c->s_acc, note, strlen(note));
                }
                /* the logical line goes on after the literal */
                s->line_len = 0;
                s->brace = 0;
                s->brace_num = 0;
                s->brace_digits = 0;
                s->in_quote = false;
                continue;
            }
            if (line_end(c) < 0)
                return -1;
            continue;
        }

        /* a literal announcement ends the line: "{" digits ["+"] "}" CRLF */
        if (b == '{' && !s->in_quote) {
            s->brace = 1;
            s->brace_num = 0;
            s->brace_digits = 0;
        } else if (s->brace == 1 && b >= '0' && b <= '9') {
            if (s->brace_digits++ < 12)
                s->brace_num = s->brace_num * 10 + (uint64_t)(b - '0');
        } else if (s->brace == 1 && b == '+' && s->brace_digits > 0) {
            s->brace = 2;
        } else if ((s->brace == 1 || s->brace == 2) && b == '}' &&
                   s->brace_digits > 0) {
            s->brace = 3;
        } else if (s->brace == 3 && b == '\r') {
            s->brace = 4;
        } else {
            s->brace = 0;
        }

        /* quoting, nesting and words of the line */
        if (s->in_quote) {
            if (s->is_escaped)
                s->is_escaped = false;
            else if (b == '\\')
                s->is_escaped = true;
            else if (b == '"')
                s->in_quote = false;
            continue;
        }
        switch (b) {
        case '"':
            s->in_quote = true;
            break;
        case '(':
            if (++s->depth > s->max_depth)
                s->max_depth = s->depth;
            break;
        case ')':
            if (s->depth > 0)
                s->depth--;
            break;
        case '[':
            s->bracket++;
            break;
        case ']':
            if (s->bracket > 0)
                s->bracket--;
            break;
        case ' ':
            s->words++;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Socket and TLS I/O with the deadline                                */

/* Wait until fd is ready for events or the deadline passes (then the
 * stream fails with PB_E_TIMEOUT and -1 is returned). */
static int
wait_fd(struct imap_conn *c, short events)
{
    for (;;) {
        int64_t left = c->deadline_ms - now_ms();
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int r;

        if (left <= 0) {
            io_timeout(c);
            return -1;
        }
        r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            io_fail(c, PB_E_NETWORK, NULL, 0, "poll: %s", strerror(errno));
            return -1;
        }
        if (r > 0)
            return 0;
    }
}

/*
 * SSL_write (and SSL_read, answering a KeyUpdate) may write to a socket
 * the server closed: block SIGPIPE in this thread meanwhile and take a SIGPIPE
 * we caused, so the process is not killed whatever its disposition (send() has
 * MSG_NOSIGNAL for the plain case).
 */
struct sigpipe_guard {
    sigset_t old;
    bool was_pending;
};

static void
sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t pipe_set, pending;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void
sigpipe_unblock(struct sigpipe_guard *g)
{
    sigset_t pipe_set, pending;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};

        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static ssize_t
io_read(struct imap_conn *c, void *buf, size_t count)
{
    if (count > INT_MAX)
        count = INT_MAX;
    for (;;) {
        if (now_ms() >= c->deadline_ms) {
            io_timeout(c);
            return -1;
        }
        if (c->ssl != NULL) {
            struct sigpipe_guard g;
            int n, e;

            ERR_clear_error();
            sigpipe_block(&g); /* a read may write (TLS 1.3 KeyUpdate) */
            n = SSL_read(c->ssl, buf, (int)count);
            sigpipe_unblock(&g);
            if (n > 0)
                return n;
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ) {
                if (wait_fd(c, POLLIN) < 0)
                    return -1;
            } else if (e == SSL_ERROR_WANT_WRITE) {
                if (wait_fd(c, POLLOUT) < 0)
                    return -1;
            } else if (e == SSL_ERROR_ZERO_RETURN ||
                       (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
                        (n == 0 || errno == ECONNRESET))) {
                return 0;
            } else {
                char why[200];

                tls_errors(why, sizeof(why));
                io_fail(c, PB_E_NETWORK, NULL, 0, "TLS read failed: %s", why);
                return -1;
            }
        } else {
            ssize_t n = recv(c->fd, buf, count, 0);

            if (n >= 0)
                return n;
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_fd(c, POLLIN) < 0)
                    return -1;
                continue;
            }
            if (errno == ECONNRESET)
                return 0;
            io_fail(c, PB_E_NETWORK, NULL, 0, "read failed: %s",
                    strerror(errno));
            return -1;
        }
    }
}

static ssize_t
io_write(struct imap_conn *c, const void *buf, size_t count)
{
    if (count > INT_MAX)
        count = INT_MAX;
    for (;;) {
        if (now_ms() >= c->deadline_ms) {
            io_timeout(c);
            return -1;
        }
        if (c->ssl != NULL) {
            struct sigpipe_guard g;
            int n, e;

            ERR_clear_error();
            sigpipe_block(&g);
            n = SSL_write(c->ssl, buf, (int)count);
            sigpipe_unblock(&g);
            if (n > 0)
                return n;
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ) {
                if (wait_fd(c, POLLIN) < 0)
                    return -1;
            } else if (e == SSL_ERROR_WANT_WRITE) {
                if (wait_fd(c, POLLOUT) < 0)
                    return -1;
            } else {
                char why[200];

                tls_errors(why, sizeof(why));
                io_fail(c, PB_E_NETWORK, c->bye_line, c->bye_line_len,
                        "TLS write failed during the %s: %s", c->what, why);
                return -1;
            }
        } else {
            ssize_t n = send(c->fd, buf, count, MSG_NOSIGNAL);

            if (n >= 0)
                return n;
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_fd(c, POLLOUT) < 0)
                    return -1;
                continue;
            }
            io_fail(c, PB_E_NETWORK, c->bye_line, c->bye_line_len,
                    "write failed during the %s: %s", c->what, strerror(errno));
            return -1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Our mailstream low driver: the same connection, plain or TLS (the   */
/* I/O looks at c->ssl; two drivers so STARTTLS swaps the stream's low  */
/* layer as libetpan's own drivers do).                                */

static ssize_t
drv_read(mailstream_low *s, void *buf, size_t count)
{
    struct imap_conn *c = s->data;
    ssize_t n;

    if (c->is_broken)
        return -1;
    n = io_read(c, buf, count);
    if (n < 0)
        return -1;
    if (n == 0) {
        if (c->bye_line_len > 0)
            io_fail(c, PB_E_NETWORK, c->bye_line, c->bye_line_len,
                    "the server said BYE and closed the connection during "
                    "the %s",
                    c->what);
        else
            io_fail(c, PB_E_NETWORK, c->last_line, c->last_line_len,
                    "the server closed the connection during the %s", c->what);
        return 0;
    }
    if (scan_server(c, buf, (size_t)n) < 0)
        return -1;
    return n;
}

static ssize_t
drv_write(mailstream_low *s, const void *buf, size_t count)
{
    struct imap_conn *c = s->data;
    ssize_t n;

    if (c->is_broken)
        return -1;
    n = io_write(c, buf, count);
    if (n > 0)
        scan_client(c, buf, (size_t)n);
    return n;
}

/* The connection is closed by imap_close, not by libetpan. */
static int
drv_close(mailstream_low *s)
{
    (void)s;
    return 0;
}

static int
drv_get_fd(mailstream_low *s)
{
    struct imap_conn *c = s->data;

    return c->fd;
}

/* mailstream_low_free leaves the low struct to its driver. */
static void
drv_free(mailstream_low *s)
{
    free(s);
}

static struct mailstream_cancel *
drv_get_cancel(mailstream_low *s)
{
    (void)s;
    return NULL;
}

static mailstream_low_driver plain_driver = {
    .mailstream_read = drv_read,
    .mailstream_write = drv_write,
    .mailstream_close = drv_close,
    .mailstream_get_fd = drv_get_fd,
    .mailstream_free = drv_free,
    .mailstream_cancel = NULL,
    .mailstream_get_cancel = drv_get_cancel,
    .mailstream_get_certificate_chain = NULL,
    .mailstream_setup_idle = NULL,
    .mailstream_unsetup_idle = NULL,
    .mailstream_interrupt_idle = NULL,
};

static mailstream_low_driver tls_driver = {
    .mailstream_read = drv_read,
    .mailstream_write = drv_write,
    .mailstream_close = drv_close,
    .mailstream_get_fd = drv_get_fd,
    .mailstream_free = drv_free,
    .mailstream_cancel = NULL,
    .mailstream_get_cancel = drv_get_cancel,
    .mailstream_get_certificate_chain = NULL,
    .mailstream_setup_idle = NULL,
    .mailstream_unsetup_idle = NULL,
    .mailstream_interrupt_idle = NULL,
};

/* ------------------------------------------------------------------ */
/* Commands                                                            */

/* Start a command (or a step of the connection): its deadline, its
 * counters and evidence. */
static void
cmd_start(struct imap_conn *c, enum pb_stage stage, unsigned ms,
          const char *what)
{
    c->stage = stage;
    c->wait_ms = ms;
    c->deadline_ms = now_ms() + ms;
    snprintf(c->what, sizeof(c->what), "%s", what);
    c->resp_bytes = 0;
    c->resp_lines = 0;
    c->tag_line_len = 0;
    c->bye_line_len = 0;
}

static void
cmd_start_reply(struct imap_conn *c, enum pb_stage stage, const char *cmd)
{
    char what[64];

    snprintf(what, sizeof(what), "reply to %.50s", cmd);
    cmd_start(c, stage, c->command_ms, what);
}

static int
check_usable(struct imap_conn *c, struct pb_err *err)
{
    if (c->is_broken) {
        if (c->has_io_err)
            return conn_fail(c, err);
        return conn_err(c, err, PB_STAGE_IMAP, PB_E_NETWORK, NULL, 0,
                        "the connection failed before");
    }
    return 0;
}

static bool
cap_has(const struct imap_conn *c, const char *name, bool is_auth)
{
    struct mailimap_connection_info *ci = c->imap->imap_connection_info;
    clistiter *it;

    if (ci == NULL || ci->imap_capability == NULL ||
        ci->imap_capability->cap_list == NULL)
        return false;
    for (it = clist_begin(ci->imap_capability->cap_list); it != NULL;
         it = clist_next(it)) {
        const struct mailimap_capability *cap = clist_content(it);

        if (cap == NULL)
            continue;
        if (is_auth && cap->cap_type == MAILIMAP_CAPABILITY_AUTH_TYPE &&
            cap->cap_data.cap_auth_type != NULL &&
            strcasecmp(cap->cap_data.cap_auth_type, name) == 0)
            return true;
        if (!is_auth && cap->cap_type == MAILIMAP_CAPABILITY_NAME &&
            cap->cap_data.cap_name != NULL &&
            strcasecmp(cap->cap_data.cap_name, name) == 0)
            return true;
    }
    return false;
}

static bool
has_capabilities(const struct imap_conn *c)
{
    struct mailimap_connection_info *ci = c->imap->imap_connection_info;

    return ci != NULL && ci->imap_capability != NULL;
}

static void
forget_capabilities(struct imap_conn *c)
{
    struct mailimap_connection_info *ci = c->imap->imap_connection_info;

    if (ci != NULL && ci->imap_capability != NULL) {
        mailimap_capability_data_free(ci->imap_capability);
        ci->imap_capability = NULL;
    }
}

static int
ask_capabilities(struct imap_conn *c, enum pb_stage stage, struct pb_err *err)
{
    struct mailimap_capability_data *cap = NULL;
    int r;

    cmd_start_reply(c, stage, "CAPABILITY");
    r = mailimap_capability(c->imap, &cap);
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, "CAPABILITY", err);
    /* libetpan keeps its own copy in imap_connection_info */
    mailimap_capability_data_free(cap);
    return 0;
}

static int
write_all(struct imap_conn *c, const void *p, size_t len)
{
    if (len > 0 && mailstream_write(c->stream, p, len) != (ssize_t)len)
        return -1;
    return 0;
}

static int
write_str(struct imap_conn *c, const char *s)
{
    return write_all(c, s, strlen(s));
}

/* Read one line into the session's buffer; NULL when the stream failed. */
static const char *
read_line(struct imap_conn *c, size_t *len)
{
    MMAPString *b;

    if (mailimap_read_line(c->imap) == NULL)
        return NULL;
    b = c->imap->imap_stream_buffer;
    *len = b->len;
    return b->str;
}

static bool
is_tagged_line(const struct imap_conn *c, const char *p, size_t len)
{
    char tag[16];
    int n = snprintf(tag, sizeof(tag), "%d ", c->imap->imap_tag);

    return n > 0 && (size_t)n < sizeof(tag) && len >= (size_t)n &&
           memcmp(p, tag, (size_t)n) == 0;
}

/* The literal "{N}" or "{N+}" a line ends with, if any. */
static bool
line_literal(const char *p, size_t len, size_t *n)
{
    size_t end = len, i;
    uint64_t v = 0;

    while (end > 0 && (p[end - 1] == '\n' || p[end - 1] == '\r'))
        end--;
    if (end < 3 || p[end - 1] != '}')
        return false;
    i = end - 1;
    if (p[i - 1] == '+')
        i--;
    end = i;
    while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
        i--;
    if (i == 0 || p[i - 1] != '{' || i == end || end - i > 10)
        return false;
    for (; i < end; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    if (v > IMAP_LIMIT_LITERAL)
        return false;
    *n = (size_t)v;
    return true;
}

/* Read and drop n octets (a literal in a response we do not parse). */
static int
skip_octets(struct imap_conn *c, size_t n)
{
    char buf[4096];

    while (n > 0) {
        size_t want = n < sizeof(buf) ? n : sizeof(buf);
        ssize_t got = mailstream_read(c->stream, buf, want);

        if (got <= 0)
            return -1;
        n -= (size_t)got;
    }
    return 0;
}

/*
 * Read untagged lines until the server's continuation request "+": 0.
 * A tagged reply instead (the server refused) is parsed: 1 with *r the
 * libetpan result and *state the reply.  -1 when the stream failed.
 */
static int
read_until_continuation(struct imap_conn *c, int *r, int *state)
{
    for (;;) {
        size_t len, lit;
        const char *line = read_line(c, &len);

        if (line == NULL)
            return -1;
        if (len > 0 && line[0] == '+')
            return 0;
        if (len > 0 && line[0] == '*') {
            /* untagged data before the "+": not needed, skipped whole */
            while (line_literal(line, len, &lit)) {
                if (skip_octets(c, lit) < 0)
                    return -1;
                line = read_line(c, &len);
                if (line == NULL)
                    return -1;
            }
            continue;
        }
        {
            struct mailimap_response *resp = NULL;

            *r = mailimap_parse_response(c->imap, &resp);
            *state = MAILIMAP_RESP_COND_STATE_BAD;
            if (*r == MAILIMAP_NO_ERROR) {
                struct mailimap_response_done *d = resp->rsp_resp_done;

                if (d != NULL &&
                    d->rsp_type == MAILIMAP_RESP_DONE_TYPE_TAGGED &&
                    d->rsp_data.rsp_tagged != NULL &&
                    d->rsp_data.rsp_tagged->rsp_cond_state != NULL)
                    *state = d->rsp_data.rsp_tagged->rsp_cond_state->rsp_type;
                mailimap_response_free(resp);
            }
            return 1;
        }
    }
}

/* The tagged reply that ends a command we wrote ourselves: its state
 * (OK, NO) in *state, or a libetpan error. */
static int
finish_raw(struct imap_conn *c, int *state)
{
    struct mailimap_response *resp = NULL;
    struct mailimap_response_done *d;
    int r;

    if (mailstream_flush(c->stream) == -1)
        return MAILIMAP_ERROR_STREAM;
    if (mailimap_read_line(c->imap) == NULL)
        return MAILIMAP_ERROR_STREAM;
    r = mailimap_parse_response(c->imap, &resp);
    if (r != MAILIMAP_NO_ERROR)
        return r;
    d = resp->rsp_resp_done;
    if (d == NULL || d->rsp_type != MAILIMAP_RESP_DONE_TYPE_TAGGED ||
        d->rsp_data.rsp_tagged == NULL ||
        d->rsp_data.rsp_tagged->rsp_cond_state == NULL) {
        mailimap_response_free(resp);
        return MAILIMAP_ERROR_PARSE;
    }
    *state = d->rsp_data.rsp_tagged->rsp_cond_state->rsp_type;
    mailimap_response_free(resp);
    return MAILIMAP_NO_ERROR;
}

/*
 * A string argument of a command we write: a quoted string when it is
 * printable ASCII, else a literal (LITERAL+ when the server has it, else
 * after the server's "+").  CR, LF and NUL were refused by the caller.
 * 0, or a libetpan error (the server refused the literal: its reply
 * parsed, MAILIMAP_ERROR_PROTOCOL or a NO as MAILIMAP_ERROR_EXTENSION).
 */
static int
write_astring(struct imap_conn *c, const char *s)
{
    size_t len = strlen(s);
    char count[48];
    int r = MAILIMAP_NO_ERROR, state = MAILIMAP_RESP_COND_STATE_BAD;

    if (pb_is_printable(s, len)) {
        if (write_str(c, "\"") < 0)
            return MAILIMAP_ERROR_STREAM;
        for (size_t i = 0; i < len; i++) {
            if ((s[i] == '"' || s[i] == '\\') && write_str(c, "\\") < 0)
                return MAILIMAP_ERROR_STREAM;
            if (write_all(c, s + i, 1) < 0)
                return MAILIMAP_ERROR_STREAM;
        }
        return write_str(c, "\"") < 0 ? MAILIMAP_ERROR_STREAM
                                      : MAILIMAP_NO_ERROR;
    }
    snprintf(count, sizeof(count), "{%zu%s}\r\n", len,
             c->has_literal_plus ? "+" : "");
    if (write_str(c, count) < 0)
        return MAILIMAP_ERROR_STREAM;
    if (!c->has_literal_plus) {
        int got;

        if (mailstream_flush(c->stream) == -1)
            return MAILIMAP_ERROR_STREAM;
        got = read_until_continuation(c, &r, &state);
        if (got < 0)
            return MAILIMAP_ERROR_STREAM;
        if (got > 0) {
            /* refused: the reply is parsed, the command is over */
            if (r != MAILIMAP_NO_ERROR)
                return r;
            return state == MAILIMAP_RESP_COND_STATE_BAD
                       ? MAILIMAP_ERROR_PROTOCOL
                       : MAILIMAP_ERROR_UID_SEARCH;
        }
    }
    return write_all(c, s, len) < 0 ? MAILIMAP_ERROR_STREAM : MAILIMAP_NO_ERROR;
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */

static bool
is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int
tcp_connect(struct imap_conn *c, const struct imap_params *p)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    const char *node = p->connect_address ? p->connect_address : p->host;
    int r, last_errno = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = p->connect_address ? AI_NUMERICHOST : AI_ADDRCONFIG;
    snprintf(port, sizeof(port), "%u", p->port);
    r = getaddrinfo(node, port, &hints, &res);
    if (r != 0) {
        if (p->connect_address != NULL)
            io_fail(c, PB_E_USAGE, NULL, 0,
                    "connect address %.64s is not an IP address: %s", node,
                    gai_strerror(r));
        else
            io_fail(c, PB_E_NETWORK, NULL, 0, "cannot resolve %.100s: %s", node,
                    gai_strerror(r));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        int so_err = 0;
        socklen_t so_len = sizeof(so_err);

        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
            last_errno = errno;
            close(fd);
            continue;
        }
        c->fd = fd;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return 0;
        }
        if (errno != EINPROGRESS) {
            last_errno = errno;
            close(fd);
            c->fd = -1;
            continue;
        }
        if (wait_fd(c, POLLOUT) < 0) {
            freeaddrinfo(res);
            return -1; /* the deadline: no other address either */
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &so_len) == 0 &&
            so_err == 0) {
            freeaddrinfo(res);
            return 0;
        }
        last_errno = so_err != 0 ? so_err : errno;
        close(fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    io_fail(c, PB_E_NETWORK, NULL, 0, "cannot connect to %.100s port %u: %s",
            node, p->port, strerror(last_errno));
    return -1;
}

static void
name_oneline(X509_NAME *name, char *dst, size_t size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    dst[0] = '\0';
    if (bio == NULL)
        return;
    if (X509_NAME_print_ex(bio, name, 0,
                           XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_get_mem_data(bio, &data);
        /* the server's words: escaped, cut where it must be */
        if (n > 0 && data != NULL)
            (void)pb_escape_to(dst, size, data, (size_t)n);
    }
    BIO_free(bio);
}

static int
tls_handshake(struct imap_conn *c, const struct imap_params *p)
{
    X509 *cert;
    const SSL_CIPHER *cipher;

    ERR_clear_error();
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL) {
        char why[200];

        tls_errors(why, sizeof(why));
        io_fail(c, PB_E_INTERNAL, NULL, 0, "SSL_CTX_new: %s", why);
        return -1;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    /* IMAP frames itself: a close without close_notify is an end of
       stream, which the parser judges */
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!p->insecure) {
        int ok = p->ca_file != NULL
                     ? SSL_CTX_load_verify_locations(c->ctx, p->ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(c->ctx);

        if (ok != 1) {
            char why[200];

            tls_errors(why, sizeof(why));
            c->stage = PB_STAGE_CONFIG;
            io_fail(c, PB_E_IO, NULL, 0, "cannot load the CA %s: %s",
                    p->ca_file ? p->ca_file : "store", why);
            return -1;
        }
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        char why[200];

        tls_errors(why, sizeof(why));
        io_fail(c, PB_E_INTERNAL, NULL, 0, "SSL_new: %s", why);
        return -1;
    }
    if (!is_ip_literal(p->host))
        SSL_set_tlsext_host_name(c->ssl, p->host); /* SNI, RFC 6066 §3 */
    if (!p->insecure) {
        int ok;

        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (is_ip_literal(p->host))
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), p->host);
        else
            ok = SSL_set1_host(c->ssl, p->host);
        if (ok != 1) {
            io_fail(c, PB_E_USAGE, NULL, 0,
                    "cannot check the certificate for host %.100s", p->host);
            return -1;
        }
    }
    for (;;) {
        int n, e;
        struct sigpipe_guard g;

        if (now_ms() >= c->deadline_ms) {
            io_timeout(c);
            return -1;
        }
        ERR_clear_error();
        sigpipe_block(&g);
        n = SSL_connect(c->ssl);
        sigpipe_unblock(&g);
        if (n == 1)
            break;
        e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
            if (wait_fd(c, POLLIN) < 0)
                return -1;
        } else if (e == SSL_ERROR_WANT_WRITE) {
            if (wait_fd(c, POLLOUT) < 0)
                return -1;
        } else {
            long v = SSL_get_verify_result(c->ssl);
            char why[200];

            tls_errors(why, sizeof(why));
            if (v != X509_V_OK)
                io_fail(c, PB_E_NETWORK, NULL, 0,
                        "TLS certificate verification failed for %.100s: %s",
                        p->host, X509_verify_cert_error_string(v));
            else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
                io_fail(c, PB_E_NETWORK, NULL, 0,
                        "the connection closed during the TLS handshake "
                        "(%s)",
                        why);
            else
                io_fail(c, PB_E_NETWORK, NULL, 0, "TLS handshake failed: %s",
                        why);
            return -1;
        }
    }
    snprintf(c->tls.version, sizeof(c->tls.version), "%s",
             SSL_get_version(c->ssl));
    cipher = SSL_get_current_cipher(c->ssl);
    snprintf(c->tls.cipher, sizeof(c->tls.cipher), "%s",
             cipher ? SSL_CIPHER_get_name(cipher) : "");
    cert = SSL_get1_peer_certificate(c->ssl);
    if (cert != NULL) {
        name_oneline(X509_get_subject_name(cert), c->tls.subject,
                     sizeof(c->tls.subject));
        name_oneline(X509_get_issuer_name(cert), c->tls.issuer,
                     sizeof(c->tls.issuer));
        X509_free(cert);
    }
    c->tls.verified = !p->insecure;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Login                                                               */

static char *
base64_new(const void *p, size_t len)
{
    size_t n = 4 * ((len + 2) / 3) + 1;
    char *out = pb_xmalloc(n);

    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)len);
    return out;
}

static void
wipe_free(char *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, strlen(p));
        free(p);
    }
}

/* The stream's write buffer held the secret: wipe it. */
static void
wipe_write_buffer(struct imap_conn *c)
{
    if (c->stream != NULL && c->stream->write_buffer != NULL)
        OPENSSL_cleanse(c->stream->write_buffer, c->stream->buffer_max_size);
}

static int
login_plain_text(struct imap_conn *c, const struct imap_params *p,
                 struct pb_err *err)
{
    struct pb_buf line;
    char *text;
    int r;

    /* the log shows what was sent but the password (redacted at capture:
       the driver skips the line libetpan writes) */
    pb_buf_init(&line, 1024);
    if (pb_buf_addf(&line, "%d LOGIN \"", c->imap->imap_tag + 1) < 0 ||
        pb_buf_add(&line, p->user,
                   strlen(p->user) > 256 ? 256 : strlen(p->user)) < 0 ||
        pb_buf_adds(&line, "\" [redacted]") < 0)
        pb_panic("imap: login line over its bound");
    text = pb_buf_take(&line, NULL);
    log_client_text(c, text);
    free(text);
    cmd_start_reply(c, PB_STAGE_AUTH, "LOGIN");
    c->suppress_client = 1;
    r = mailimap_login(c->imap, p->user, p->secret);
    c->suppress_client = 0;
    wipe_write_buffer(c);
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, "LOGIN", err);
    return 0;
}

/*
 * AUTHENTICATE mech (RFC 3501 §6.2.2) with the initial response ir: in
 * the command when the server has SASL-IR (RFC 4959), else after its "+".
 * Every line carrying the response is logged as redacted.  A challenge
 * after the response (XOAUTH2 sends its error that way) is answered with
 * an empty line (XOAUTH2) or "*" (cancel), then the tagged NO comes.
 */
static int
login_sasl(struct imap_conn *c, const char *mech, const char *ir, size_t irlen,
           struct pb_err *err)
{
    char *b64 = base64_new(ir, irlen);
    char cmd[64], logline[128];
    int r = MAILIMAP_NO_ERROR, state = MAILIMAP_RESP_COND_STATE_BAD;
    int rounds = 0;
    bool sent = false;

    snprintf(cmd, sizeof(cmd), "AUTHENTICATE %s", mech);
    cmd_start_reply(c, PB_STAGE_AUTH, cmd);
    if (c->has_sasl_ir) {
        snprintf(logline, sizeof(logline), "%d %s [redacted]",
                 c->imap->imap_tag + 1, cmd);
        log_client_text(c, logline);
        c->suppress_client = 1;
        sent = true;
    }
    if (mailimap_send_current_tag(c->imap) != MAILIMAP_NO_ERROR ||
        write_str(c, cmd) < 0 ||
        (c->has_sasl_ir && (write_str(c, " ") < 0 || write_str(c, b64) < 0)) ||
        write_str(c, "\r\n") < 0 || mailstream_flush(c->stream) == -1) {
        r = MAILIMAP_ERROR_STREAM;
        goto out;
    }
    for (;;) {
        size_t len, lit;
        const char *line = read_line(c, &len);

        if (line == NULL) {
            r = MAILIMAP_ERROR_STREAM;
            goto out;
        }
        if (len > 0 && line[0] == '+') {
            const char *answer = "*";

            if (!sent) {
                log_client_text(c, "[redacted]");
                c->suppress_client = 1;
                answer = b64;
                sent = true;
            } else if (++rounds > SASL_ROUNDS) {
                r = MAILIMAP_ERROR_PROTOCOL;
                goto out;
            } else if (strcmp(mech, "XOAUTH2") == 0) {
                answer = ""; /* its error arrives as a challenge */
            }
            if (write_str(c, answer) < 0 || write_str(c, "\r\n") < 0 ||
                mailstream_flush(c->stream) == -1) {
                r = MAILIMAP_ERROR_STREAM;
                goto out;
            }
            c->suppress_client = 0;
            continue;
        }
        if (len > 0 && line[0] == '*') {
            while (line_literal(line, len, &lit)) {
                if (skip_octets(c, lit) < 0 ||
                    (line = read_line(c, &len)) == NULL) {
                    r = MAILIMAP_ERROR_STREAM;
                    goto out;
                }
            }
            continue;
        }
        {
            struct mailimap_response *resp = NULL;
            struct mailimap_response_done *d;

            r = mailimap_parse_response(c->imap, &resp);
            if (r != MAILIMAP_NO_ERROR)
                goto out;
            d = resp->rsp_resp_done;
            if (d != NULL && d->rsp_type == MAILIMAP_RESP_DONE_TYPE_TAGGED &&
                d->rsp_data.rsp_tagged != NULL &&
                d->rsp_data.rsp_tagged->rsp_cond_state != NULL)
                state = d->rsp_data.rsp_tagged->rsp_cond_state->rsp_type;
            mailimap_response_free(resp);
            break;
        }
    }
out:
    c->suppress_client = 0;
    wipe_free(b64);
    wipe_write_buffer(c);
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, cmd, err);
    if (state != MAILIMAP_RESP_COND_STATE_OK)
        return etpan_fail(c, MAILIMAP_ERROR_LOGIN, cmd, err);
    /* libetpan did not see this login */
    c->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
    return 0;
}

static int
login(struct imap_conn *c, const struct imap_params *p, struct pb_err *err)
{
    size_t ulen = strlen(p->user), slen = strlen(p->secret);
    struct pb_buf ir;
    char *irp;
    size_t irlen;
    int rc;

    if (!has_capabilities(c) && ask_capabilities(c, PB_STAGE_AUTH, err) < 0)
        return -1;
    c->has_sasl_ir = cap_has(c, "SASL-IR", false);
    c->has_literal_plus = cap_has(c, "LITERAL+", false);
    /* what the server can do after login comes with the login's OK, or
       is asked for then */
    forget_capabilities(c);
    if (p->auth == IMAP_AUTH_LOGIN)
        return login_plain_text(c, p, err);
    /* RFC 4616 §2: authzid NUL authcid NUL passwd; the XOAUTH2 form is
       Google's: "user=" user ^A "auth=Bearer " token ^A ^A */
    pb_buf_init(&ir, ulen + slen + 64);
    if (p->auth == IMAP_AUTH_PLAIN)
        rc = pb_buf_addc(&ir, '\0') < 0 || pb_buf_add(&ir, p->user, ulen) < 0 ||
             pb_buf_addc(&ir, '\0') < 0 || pb_buf_add(&ir, p->secret, slen) < 0;
    else
        rc = pb_buf_adds(&ir, "user=") < 0 ||
             pb_buf_add(&ir, p->user, ulen) < 0 ||
             pb_buf_adds(&ir, "\001auth=Bearer ") < 0 ||
             pb_buf_add(&ir, p->secret, slen) < 0 ||
             pb_buf_adds(&ir, "\001\001") < 0;
    if (rc)
        pb_panic("imap: SASL response over its bound");
    irp = pb_buf_take(&ir, &irlen);
    rc = login_sasl(c, p->auth == IMAP_AUTH_PLAIN ? "PLAIN" : "XOAUTH2", irp,
                    irlen, err);
    OPENSSL_cleanse(irp, irlen);
    free(irp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */

static bool
has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int
check_params(const struct imap_params *p, struct pb_err *err)
{
    if (p->host == NULL || p->host[0] == '\0' || strlen(p->host) > 253 ||
        !pb_is_printable(p->host, strlen(p->host)))
        return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                          "imap: a host name is required (printable, at most "
                          "253 octets)");
    if (p->port == 0 || p->port > 65535)
        return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                          "imap %s: port %u out of range", p->host, p->port);
    if (p->user == NULL || p->user[0] == '\0' || has_crlf(p->user) ||
        strlen(p->user) > 1024)
        return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                          "imap %s:%u: a user name is required (no CR, LF; "
                          "at most 1024 octets)",
                          p->host, p->port);
    if (p->secret == NULL || p->secret[0] == '\0' || has_crlf(p->secret) ||
        strlen(p->secret) > 16384)
        return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                          "imap %s:%u: a password or token is required (no "
                          "CR, LF; at most 16384 octets)",
                          p->host, p->port);
    return 0;
}

static void
conn_free(struct imap_conn *c)
{
    c->is_broken = true; /* nothing more goes out */
    if (c->imap != NULL) {
        /* mailimap_free closes an adopted stream (its LOGOUT fails at
           once on a broken stream) */
        mailimap_free(c->imap);
    } else if (c->stream != NULL) {
        mailstream_close(c->stream);
    }
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->ctx != NULL)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    for (size_t i = 0; i < c->nlog; i++)
        free(c->log[i]);
    free(c);
}

/* The STARTTLS exchange (RFC 3501 §6.2.1), the response-injection check
 * and the handshake, then the stream's low layer is the TLS one. */
static int
start_tls(struct imap_conn *c, const struct imap_params *p, struct pb_err *err)
{
    mailstream_low *old_low, *new_low;
    char peek[EVIDENCE_RAW];
    const char *sp;
    bool is_ok;
    ssize_t n = 0;
    int r;

    c->stage = PB_STAGE_TLS;
    snprintf(c->what, sizeof(c->what), "reply to STARTTLS");
    r = mailimap_starttls(c->imap);
    if (c->has_io_err)
        return conn_fail(c, err);
    sp = memchr(c->tag_line, ' ', c->tag_line_len);
    is_ok = sp != NULL && (size_t)(c->tag_line + c->tag_line_len - sp) >= 3 &&
            strncasecmp(sp + 1, "OK", 2) == 0;
    /* RFC 3501 §6.2.1 / RFC 2595 §3.1: what came after the OK came
       before TLS, from anyone on the path: refuse it (a response
       injection, as CVE-2011-0411).  libetpan 1.9.4 refuses it too
       (CVE-2020-15953) but only says MAILIMAP_ERROR_STARTTLS. */
    if (is_ok || r == MAILIMAP_NO_ERROR) {
        if (c->stream->read_buffer_len > 0) {
            n = (ssize_t)(c->stream->read_buffer_len < sizeof(peek)
                              ? c->stream->read_buffer_len
                              : sizeof(peek));
            memcpy(peek, c->stream->read_buffer, (size_t)n);
        } else {
            n = recv(c->fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
        }
        if (n > 0) {
            c->is_broken = true;
            return conn_err(c, err, PB_STAGE_TLS, PB_E_SYNTAX, peek, (size_t)n,
                            "the server sent more data after its STARTTLS "
                            "OK, before TLS began (a response injection); "
                            "not trusted, connection closed");
        }
    }
    if (r == MAILIMAP_ERROR_STARTTLS && !is_ok)
        return conn_err(c, err, PB_STAGE_TLS, PB_E_NETWORK, c->tag_line,
                        c->tag_line_len,
                        "the server refused STARTTLS and TLS is required "
                        "(no fallback to plain text)");
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, "STARTTLS", err);
    snprintf(c->what, sizeof(c->what), "TLS handshake");
    if (tls_handshake(c, p) < 0)
        return conn_fail(c, err);
    new_low = mailstream_low_new(c, &tls_driver);
    if (new_low == NULL) {
        c->is_broken = true;
        return conn_err(c, err, PB_STAGE_TLS, PB_E_INTERNAL, NULL, 0,
                        "out of memory");
    }
    old_low = mailstream_get_low(c->stream);
    mailstream_set_low(c->stream, new_low);
    mailstream_low_free(old_low); /* our free: the fd stays open */
    /* RFC 3501 §6.2.1: capabilities from before TLS are forgotten */
    forget_capabilities(c);
    return 0;
}

int
imap_open(const struct imap_params *p, struct imap_conn **out,
          struct pb_err *err)
{
    struct imap_conn *c;
    mailstream_low *low;
    bool is_preauth;
    int r;

    *out = NULL;
    pb_err_clear(err);
    if (check_params(p, err) < 0)
        return -1;
    c = pb_xcalloc(1, sizeof(*c));
    c->fd = -1;
    snprintf(c->host, sizeof(c->host), "%s", p->host);
    c->port = p->port;
    snprintf(c->label, sizeof(c->label), "imap %s:%u", p->host, p->port);
    c->connect_ms =
        p->connect_timeout_ms ? p->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c->command_ms =
        p->command_timeout_ms ? p->command_timeout_ms : DEFAULT_COMMAND_MS;
    c->is_insecure = p->insecure;

    /* one deadline for TCP, TLS (either kind) and the greeting */
    cmd_start(c, PB_STAGE_CONNECT, c->connect_ms, "TCP connection");
    if (tcp_connect(c, p) < 0)
        goto fail_io;
    if (p->tls == IMAP_TLS_IMPLICIT) {
        c->stage = PB_STAGE_TLS;
        snprintf(c->what, sizeof(c->what), "TLS handshake");
        if (tls_handshake(c, p) < 0)
            goto fail_io;
    }
    low = mailstream_low_new(c, p->tls == IMAP_TLS_IMPLICIT ? &tls_driver
                                                            : &plain_driver);
    if (low != NULL) {
        c->stream = mailstream_new(low, STREAM_BUFFER);
        if (c->stream == NULL)
            mailstream_low_free(low);
    }
    if (c->stream != NULL)
        c->imap = mailimap_new(0, NULL);
    if (c->imap == NULL) {
        conn_err(c, err, PB_STAGE_CONNECT, PB_E_INTERNAL, NULL, 0,
                 "out of memory");
        goto fail;
    }

    c->stage = PB_STAGE_GREETING;
    snprintf(c->what, sizeof(c->what), "greeting");
    r = mailimap_connect(c->imap, c->stream);
    if (r == MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION && !c->has_io_err) {
        /* RFC 3501 §7.1.5: the server will not take this connection (now) */
        conn_err(c, err, PB_STAGE_GREETING, PB_E_TEMPFAIL, c->bye_line,
                 c->bye_line_len,
                 "the server refused the connection with a BYE greeting");
        goto fail;
    }
    if (r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
        r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
        etpan_fail(c, r, "the greeting", err);
        goto fail;
    }
    is_preauth = r == MAILIMAP_NO_ERROR_AUTHENTICATED;

    if (p->tls == IMAP_TLS_STARTTLS) {
        if (is_preauth) {
            conn_err(c, err, PB_STAGE_TLS, PB_E_PERMFAIL, c->last_line,
                     c->last_line_len,
                     "the server sent PREAUTH in plain text: STARTTLS is no "
                     "longer possible and TLS is required");
            goto fail;
        }
        if (start_tls(c, p, err) < 0)
            goto fail;
    }

    if (!is_preauth) {
        /* capabilities learnt from the login reply, if it has them */
        if (login(c, p, err) < 0)
            goto fail;
    }
    if (!has_capabilities(c) && ask_capabilities(c, PB_STAGE_AUTH, err) < 0)
        goto fail;
    c->has_idle = cap_has(c, "IDLE", false);
    c->has_uidplus = cap_has(c, "UIDPLUS", false);
    c->has_special_use = cap_has(c, "SPECIAL-USE", false);
    c->has_literal_plus = cap_has(c, "LITERAL+", false);
    log_debug("%s: logged in as %s (%s %s%s)", c->label, p->user,
              c->tls.version, c->tls.cipher,
              c->tls.verified ? ", verified" : ", NOT verified");
    *out = c;
    return 0;

fail_io:
    conn_fail(c, err);
fail:
    conn_free(c);
    return -1;
}

bool
imap_has_idle(const struct imap_conn *c)
{
    return c->has_idle;
}

bool
imap_has_uidplus(const struct imap_conn *c)
{
    return c->has_uidplus;
}

const struct imap_tls_info *
imap_tls(const struct imap_conn *c)
{
    return &c->tls;
}

const char *const *
imap_log(const struct imap_conn *c, size_t *n)
{
    *n = c->nlog;
    return (const char *const *)c->log;
}

void
imap_close(struct imap_conn *c)
{
    if (c == NULL)
        return;
    if (!c->is_broken && c->imap != NULL && c->imap->imap_stream != NULL) {
        cmd_start_reply(c, PB_STAGE_IMAP, "LOGOUT");
        c->is_logout = true;
        /* closes the stream whatever the outcome */
        (void)mailimap_logout(c->imap);
        if (c->ssl != NULL && !c->is_broken) {
            struct sigpipe_guard g;

            /* one try at close_notify, never waiting */
            sigpipe_block(&g);
            (void)SSL_shutdown(c->ssl);
            sigpipe_unblock(&g);
        }
        ERR_clear_error();
    }
    conn_free(c);
}

/* ------------------------------------------------------------------ */
/* Mailboxes                                                           */

/* A mailbox name we send: modified UTF-7 (RFC 3501 §5.1.3) is printable
 * ASCII; anything else would go out raw in a quoted string. */
static int
check_mailbox(struct imap_conn *c, const char *mailbox, struct pb_err *err)
{
    size_t len = mailbox != NULL ? strlen(mailbox) : 0;

    if (len == 0 || len > 1000 || !pb_is_printable(mailbox, len))
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, mailbox,
                        mailbox != NULL ? len : 0,
                        "mailbox name must be 1 to 1000 octets of printable "
                        "ASCII (modified UTF-7)");
    return 0;
}

/* attr matches a LIST attribute as libetpan gives it (with or without its
 * backslash). */
static bool
attr_is(const char *got, const char *attr)
{
    if (got == NULL)
        return false;
    if (got[0] == '\\')
        got++;
    if (attr[0] == '\\')
        attr++;
    return strcasecmp(got, attr) == 0;
}

static bool
list_has_attr(const struct mailimap_mailbox_list *mb, const char *attr)
{
    const struct mailimap_mbx_list_flags *f = mb->mb_flag;

    if (f == NULL || f->mbf_oflags == NULL)
        return false;
    for (clistiter *it = clist_begin(f->mbf_oflags); it != NULL;
         it = clist_next(it)) {
        const struct mailimap_mbx_list_oflag *o = clist_content(it);

        if (o == NULL || o->of_type != MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT)
            continue;
        if (attr_is(o->of_flag_ext, attr))
            return true;
        /* XLIST (Gmail before RFC 6154) called \Junk \Spam */
        if (attr_is(attr, "\\Junk") && attr_is(o->of_flag_ext, "\\Spam"))
            return true;
    }
    return false;
}

int
imap_find_special(struct imap_conn *c, const char *attr, char **name,
                  struct pb_err *err)
{
    clist *list = NULL;
    int r, state = MAILIMAP_RESP_COND_STATE_BAD;
    int rc = 0;

    *name = NULL;
    pb_err_clear(err);
    if (check_usable(c, err) < 0)
        return -1;
    if (attr == NULL || attr[0] == '\0' || !pb_is_printable(attr, strlen(attr)))
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, NULL, 0,
                        "a special-use attribute is required (\"\\\\Junk\")");
    if (c->has_special_use) {
        /* RFC 6154 §5.1 (with RFC 5258 LIST-EXTENDED) */
        cmd_start_reply(c, PB_STAGE_IMAP, "LIST RETURN (SPECIAL-USE)");
        if (mailimap_send_current_tag(c->imap) != MAILIMAP_NO_ERROR ||
            write_str(c, "LIST \"\" \"*\" RETURN (SPECIAL-USE)\r\n") < 0)
            r = MAILIMAP_ERROR_STREAM;
        else
            r = finish_raw(c, &state);
        if (r == MAILIMAP_NO_ERROR && c->imap->imap_response_info != NULL) {
            list = c->imap->imap_response_info->rsp_mailbox_list;
            c->imap->imap_response_info->rsp_mailbox_list = NULL;
        }
        if (r == MAILIMAP_NO_ERROR && state != MAILIMAP_RESP_COND_STATE_OK)
            r = MAILIMAP_ERROR_LIST;
        if (r != MAILIMAP_NO_ERROR) {
            if (list != NULL)
                mailimap_list_result_free(list);
            list = NULL;
            /* a server that says SPECIAL-USE but not LIST-EXTENDED
               answers BAD: the plain LIST below has the attributes too */
            if (c->has_io_err || r != MAILIMAP_ERROR_PROTOCOL || c->is_broken)
                return etpan_fail(c, r, "LIST", err);
        }
    }
    if (list == NULL) {
        cmd_start_reply(c, PB_STAGE_IMAP, "LIST");
        r = mailimap_list(c->imap, "", "*", &list);
        if (r != MAILIMAP_NO_ERROR) {
            if (list != NULL)
                mailimap_list_result_free(list);
            return etpan_fail(c, r, "LIST", err);
        }
    }
    for (clistiter *it = list ? clist_begin(list) : NULL; it != NULL;
         it = clist_next(it)) {
        const struct mailimap_mailbox_list *mb = clist_content(it);

        if (mb == NULL || mb->mb_name == NULL || !list_has_attr(mb, attr))
            continue;
        if (mb->mb_name[0] == '\0' ||
            !pb_is_printable(mb->mb_name, strlen(mb->mb_name))) {
            rc = conn_err(c, err, PB_STAGE_IMAP, PB_E_SYNTAX, mb->mb_name,
                          strlen(mb->mb_name),
                          "the %s mailbox's name is not printable ASCII "
                          "(modified UTF-7)",
                          attr);
            break;
        }
        *name = pb_xstrdup(mb->mb_name);
        break;
    }
    if (list != NULL)
        mailimap_list_result_free(list);
    return rc;
}

int
imap_select(struct imap_conn *c, const char *mailbox, bool readonly,
            uint32_t *uidvalidity, uint32_t *uidnext, struct pb_err *err)
{
    const char *cmd = readonly ? "EXAMINE" : "SELECT";
    int r;

    *uidvalidity = 0;
    *uidnext = 0;
    pb_err_clear(err);
    if (check_usable(c, err) < 0 || check_mailbox(c, mailbox, err) < 0)
        return -1;
    cmd_start_reply(c, PB_STAGE_IMAP, cmd);
    r = readonly ? mailimap_examine(c->imap, mailbox)
                 : mailimap_select(c->imap, mailbox);
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, cmd, err);
    if (c->imap->imap_selection_info != NULL) {
        *uidvalidity = c->imap->imap_selection_info->sel_uidvalidity;
        *uidnext = c->imap->imap_selection_info->sel_uidnext;
    }
    c->is_readonly = readonly;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Search                                                              */

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* The UIDs of the SEARCH responses to the command just done, ascending,
 * without duplicates, those under min_uid dropped. */
static int
take_search(struct imap_conn *c, uint32_t min_uid, uint32_t **uids, size_t *n,
            struct pb_err *err)
{
    clist *res = c->imap->imap_response_info != NULL
                     ? c->imap->imap_response_info->rsp_search_result
                     : NULL;
    uint32_t *out;
    size_t k = 0, count;

    if (res == NULL || clist_count(res) <= 0)
        return 0;
    count = (size_t)clist_count(res);
    if (count > IMAP_LIMIT_UIDS)
        return conn_err(c, err, PB_STAGE_IMAP, PB_E_LIMIT, NULL, 0,
                        "the SEARCH reply has %zu UIDs, more than %u "
                        "(IMAP_LIMIT_UIDS)",
                        count, (unsigned)IMAP_LIMIT_UIDS);
    out = pb_xreallocarray(NULL, count, sizeof(*out));
    for (clistiter *it = clist_begin(res); it != NULL; it = clist_next(it)) {
        const uint32_t *u = clist_content(it);

        if (u != NULL && *u != 0 && *u >= min_uid)
            out[k++] = *u;
    }
    qsort(out, k, sizeof(*out), cmp_u32);
    if (k > 1) {
        size_t w = 1;

        for (size_t i = 1; i < k; i++)
            if (out[i] != out[w - 1])
                out[w++] = out[i];
        k = w;
    }
    if (k == 0) {
        free(out);
        return 0;
    }
    *uids = out;
    *n = k;
    return 0;
}

static int
search_raw(struct imap_conn *c, const char *field, const char *value,
           uint32_t min_uid, uint32_t **uids, size_t *n, struct pb_err *err)
{
    char range[48];
    int r, state = MAILIMAP_RESP_COND_STATE_BAD;
    bool is_8bit = value != NULL && !pb_is_printable(value, strlen(value));

    cmd_start_reply(c, PB_STAGE_IMAP, "UID SEARCH");
    r = mailimap_send_current_tag(c->imap);
    if (r == MAILIMAP_NO_ERROR &&
        write_str(c, is_8bit ? "UID SEARCH CHARSET UTF-8" : "UID SEARCH") < 0)
        r = MAILIMAP_ERROR_STREAM;
    if (r == MAILIMAP_NO_ERROR && min_uid > 0) {
        snprintf(range, sizeof(range), " UID %u:*", (unsigned)min_uid);
        if (write_str(c, range) < 0)
            r = MAILIMAP_ERROR_STREAM;
    }
    if (r == MAILIMAP_NO_ERROR && field != NULL) {
        if (write_str(c, " HEADER ") < 0)
            r = MAILIMAP_ERROR_STREAM;
        if (r == MAILIMAP_NO_ERROR)
            r = write_astring(c, field);
        if (r == MAILIMAP_NO_ERROR && write_str(c, " ") < 0)
            r = MAILIMAP_ERROR_STREAM;
        if (r == MAILIMAP_NO_ERROR)
            r = write_astring(c, value);
    }
    if (r == MAILIMAP_NO_ERROR && write_str(c, "\r\n") < 0)
        r = MAILIMAP_ERROR_STREAM;
    if (r == MAILIMAP_NO_ERROR)
        r = finish_raw(c, &state);
    if (r == MAILIMAP_NO_ERROR && state != MAILIMAP_RESP_COND_STATE_OK)
        r = MAILIMAP_ERROR_UID_SEARCH;
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, "UID SEARCH", err);
    return take_search(c, min_uid, uids, n, err);
}

static int
check_selected(struct imap_conn *c, struct pb_err *err)
{
    if (c->imap->imap_state != MAILIMAP_STATE_SELECTED ||
        c->imap->imap_selection_info == NULL)
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, NULL, 0,
                        "no mailbox selected");
    return 0;
}

int
imap_search_header(struct imap_conn *c, const char *field, const char *value,
                   uint32_t min_uid, uint32_t **uids, size_t *n,
                   struct pb_err *err)
{
    size_t flen = field != NULL ? strlen(field) : 0;

    *uids = NULL;
    *n = 0;
    pb_err_clear(err);
    if (check_usable(c, err) < 0 || check_selected(c, err) < 0)
        return -1;
    /* RFC 5322 §2.2: a field name is printable ASCII but ':' and SP */
    if (flen == 0 || flen > 200 || !pb_is_printable(field, flen) ||
        strpbrk(field, ": ") != NULL)
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, field, flen,
                        "a header field name is required (printable ASCII, "
                        "no ':' or space)");
    if (value == NULL || strlen(value) > 4096 || has_crlf(value))
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, NULL, 0,
                        "a header value to search for is required (no CR, "
                        "LF; at most 4096 octets)");
    return search_raw(c, field, value, min_uid, uids, n, err);
}

int
imap_search_from(struct imap_conn *c, uint32_t min_uid, uint32_t **uids,
                 size_t *n, struct pb_err *err)
{
    *uids = NULL;
    *n = 0;
    pb_err_clear(err);
    if (check_usable(c, err) < 0 || check_selected(c, err) < 0)
        return -1;
    /* "UID n:*" always matches the last message, even below n (RFC 3501
       §6.4.8): take_search drops what is under min_uid */
    return search_raw(c, NULL, NULL, min_uid > 0 ? min_uid : 1, uids, n, err);
}

/* ------------------------------------------------------------------ */
/* Fetch                                                               */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* INTERNALDATE as Unix time, 0 when out of range. */
static long long
date_time_unix(const struct mailimap_date_time *t)
{
    int zone, zh, zm;

    if (t == NULL || t->dt_year < 1970 || t->dt_year > 9999 ||
        t->dt_month < 1 || t->dt_month > 12 || t->dt_day < 1 ||
        t->dt_day > 31 || t->dt_hour < 0 || t->dt_hour > 23 || t->dt_min < 0 ||
        t->dt_min > 59 || t->dt_sec < 0 || t->dt_sec > 60)
        return 0;
    zone = t->dt_zone < 0 ? -t->dt_zone : t->dt_zone;
    zh = zone / 100;
    zm = zone % 100;
    if (zh > 14 || zm > 59)
        return 0;
    return days_from_civil(t->dt_year, (unsigned)t->dt_month,
                           (unsigned)t->dt_day) *
               86400 +
           t->dt_hour * 3600 + t->dt_min * 60 + t->dt_sec -
           (t->dt_zone < 0 ? -1 : 1) * (zh * 3600 + zm * 60);
}

int
imap_fetch(struct imap_conn *c, uint32_t uid, bool header_only, size_t max,
           char **data, size_t *len, long long *internaldate,
           struct pb_err *err)
{
    struct mailimap_set *set = NULL;
    struct mailimap_fetch_type *ft = NULL;
    struct mailimap_section *sec;
    struct mailimap_fetch_att *att;
    clist *result = NULL;
    bool is_found = false;
    int r, rc = 0;

    *data = NULL;
    *len = 0;
    if (internaldate != NULL)
        *internaldate = 0;
    pb_err_clear(err);
    if (check_usable(c, err) < 0 || check_selected(c, err) < 0)
        return -1;
    if (uid == 0)
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, NULL, 0,
                        "UID 0 does not exist");
    if (max == 0 || max > IMAP_LIMIT_LITERAL)
        max = IMAP_LIMIT_LITERAL;

    set = mailimap_set_new_single(uid);
    ft = mailimap_fetch_type_new_fetch_att_list_empty();
    if (set == NULL || ft == NULL)
        goto nomem;
    att = mailimap_fetch_att_new_uid();
    if (att == NULL)
        goto nomem;
    if (mailimap_fetch_type_new_fetch_att_list_add(ft, att) != 0)
        goto nomem_att;
    att = mailimap_fetch_att_new_internaldate();
    if (att == NULL)
        goto nomem;
    if (mailimap_fetch_type_new_fetch_att_list_add(ft, att) != 0)
        goto nomem_att;
    /* BODY.PEEK: never sets \Seen (RFC 3501 §6.4.5) */
    sec = header_only ? mailimap_section_new_header()
                      : mailimap_section_new(NULL);
    if (sec == NULL)
        goto nomem;
    att = header_only ? mailimap_fetch_att_new_body_peek_section(sec)
                      : mailimap_fetch_att_new_body_peek_section_partial(
                            sec, 0, (uint32_t)max);
    if (att == NULL) {
        mailimap_section_free(sec);
        goto nomem;
    }
    if (mailimap_fetch_type_new_fetch_att_list_add(ft, att) != 0)
        goto nomem_att;

    cmd_start_reply(c, PB_STAGE_IMAP, "UID FETCH");
    r = mailimap_uid_fetch(c->imap, set, ft, &result);
    if (r != MAILIMAP_NO_ERROR) {
        rc = etpan_fail(c, r, "UID FETCH", err);
        goto out;
    }
    for (clistiter *it = result ? clist_begin(result) : NULL;
         it != NULL && !is_found; it = clist_next(it)) {
        const struct mailimap_msg_att *ma = clist_content(it);
        const struct mailimap_msg_att_body_section *body = NULL;
        const struct mailimap_date_time *date = NULL;
        uint32_t got_uid = 0;

        if (ma == NULL || ma->att_list == NULL)
            continue;
        for (clistiter *j = clist_begin(ma->att_list); j != NULL;
             j = clist_next(j)) {
            const struct mailimap_msg_att_item *item = clist_content(j);
            const struct mailimap_msg_att_static *st;

            if (item == NULL ||
                item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC ||
                item->att_data.att_static == NULL)
                continue;
            st = item->att_data.att_static;
            if (st->att_type == MAILIMAP_MSG_ATT_UID)
                got_uid = st->att_data.att_uid;
            else if (st->att_type == MAILIMAP_MSG_ATT_INTERNALDATE)
                date = st->att_data.att_internal_date;
            else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION)
                body = st->att_data.att_body_section;
        }
        /* unsolicited FETCH data (flags of other messages) is skipped */
        if (got_uid != uid || body == NULL)
            continue;
        is_found = true;
        if (body->sec_length > max) {
            rc = conn_err(c, err, PB_STAGE_IMAP, PB_E_LIMIT, NULL, 0,
                          "UID %u: the server sent %zu octets, more than the "
                          "%zu asked for",
                          (unsigned)uid, body->sec_length, max);
            goto out;
        }
        *data = pb_xmemdup(body->sec_body_part ? body->sec_body_part : "",
                           body->sec_body_part ? body->sec_length : 0);
        *len = body->sec_body_part ? body->sec_length : 0;
        if (internaldate != NULL)
            *internaldate = date_time_unix(date);
    }
    goto out;

nomem_att:
    mailimap_fetch_att_free(att);
nomem:
    rc = conn_err(c, err, PB_STAGE_IMAP, PB_E_INTERNAL, NULL, 0,
                  "out of memory");
out:
    if (result != NULL)
        mailimap_fetch_list_free(result);
    if (ft != NULL)
        mailimap_fetch_type_free(ft);
    if (set != NULL)
        mailimap_set_free(set);
    if (rc < 0) {
        free(*data);
        *data = NULL;
        *len = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Wait                                                                */

/* Is application data there to read before the deadline?  1 yes, 0 the
 * deadline passed, -1 the stream failed.  TLS records without data
 * (session tickets, key updates) are consumed and waited past. */
static int
wait_data(struct imap_conn *c, int64_t until)
{
    for (;;) {
        int64_t left;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int r;

        if (c->stream->read_buffer_len > 0 ||
            (c->ssl != NULL && SSL_pending(c->ssl) > 0))
            return 1;
        left = until - now_ms();
        if (left <= 0)
            return 0;
        r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            io_fail(c, PB_E_NETWORK, NULL, 0, "poll: %s", strerror(errno));
            return -1;
        }
        if (r == 0)
            continue;
        if (c->ssl != NULL) {
            struct sigpipe_guard g;
            char byte;
            int n, e;

            ERR_clear_error();
            sigpipe_block(&g);
            n = SSL_peek(c->ssl, &byte, 1);
            sigpipe_unblock(&g);
            if (n > 0)
                return 1;
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                continue;
        }
        return 1; /* data, or an end the read will report */
    }
}

static int
wait_idle(struct imap_conn *c, unsigned timeout_ms, int64_t start,
          struct pb_err *err)
{
    int64_t wait_end = start + timeout_ms;
    unsigned long before;
    bool is_changed;
    int r;

    /* one deadline for the whole: IDLE, the wait and DONE */
    cmd_start_reply(c, PB_STAGE_IMAP, "IDLE");
    c->deadline_ms = start + (int64_t)timeout_ms + c->command_ms;
    c->wait_ms = timeout_ms + c->command_ms;
    before = c->n_news;
    r = mailimap_idle(c->imap);
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, "IDLE", err);
    /* libetpan drops untagged data that came before the "+"; the stream
       counted it */
    is_changed = c->n_news != before;
    while (!is_changed) {
        size_t len, lit;
        const char *line;
        int w = wait_data(c, wait_end);

        if (w < 0)
            return conn_fail(c, err);
        if (w == 0)
            break;
        line = read_line(c, &len);
        if (line == NULL)
            return etpan_fail(c, MAILIMAP_ERROR_STREAM, "IDLE", err);
        if (is_tagged_line(c, line, len)) {
            /* the server ended the IDLE itself (RFC 2177 allows it) */
            struct mailimap_response *resp = NULL;

            r = mailimap_parse_response(c->imap, &resp);
            if (r != MAILIMAP_NO_ERROR)
                return etpan_fail(c, r, "IDLE", err);
            mailimap_response_free(resp);
            return is_changed ? 1 : 0;
        }
        if (has_prefix_ci(line, len, "* BYE")) {
            c->is_broken = true;
            return conn_err(c, err, PB_STAGE_IMAP, PB_E_NETWORK, line, len,
                            "the server said BYE during IDLE");
        }
        if (c->n_news != before || is_untagged_count(line, len, "EXISTS") ||
            is_untagged_count(line, len, "RECENT")) {
            is_changed = true;
            break;
        }
        /* other untagged data (FETCH, EXPUNGE, OK): skipped whole */
        while (line_literal(line, len, &lit)) {
            if (skip_octets(c, lit) < 0 || (line = read_line(c, &len)) == NULL)
                return etpan_fail(c, MAILIMAP_ERROR_STREAM, "IDLE", err);
        }
    }
    snprintf(c->what, sizeof(c->what), "reply to DONE");
    c->imap->imap_selection_info->sel_has_exists = 0;
    c->imap->imap_selection_info->sel_has_recent = 0;
    r = mailimap_idle_done(c->imap);
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, "IDLE", err);
    if (c->imap->imap_selection_info != NULL &&
        (c->imap->imap_selection_info->sel_has_exists ||
         c->imap->imap_selection_info->sel_has_recent))
        is_changed = true;
    return is_changed ? 1 : 0;
}

int
imap_wait(struct imap_conn *c, unsigned timeout_ms, struct pb_err *err)
{
    int64_t start = now_ms();
    unsigned long before;
    int r;

    pb_err_clear(err);
    if (check_usable(c, err) < 0 || check_selected(c, err) < 0)
        return -1;
    if (c->has_idle)
        return wait_idle(c, timeout_ms, start, err);
    /* no IDLE: sleep, then NOOP reports what arrived */
    for (;;) {
        int64_t left = start + timeout_ms - now_ms();
        struct timespec ts;

        if (left <= 0)
            break;
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000;
        nanosleep(&ts, NULL);
    }
    cmd_start_reply(c, PB_STAGE_IMAP, "NOOP");
    c->imap->imap_selection_info->sel_has_exists = 0;
    c->imap->imap_selection_info->sel_has_recent = 0;
    before = c->n_news;
    r = mailimap_noop(c->imap);
    if (r != MAILIMAP_NO_ERROR)
        return etpan_fail(c, r, "NOOP", err);
    if (c->n_news != before)
        return 1;
    if (c->imap->imap_selection_info != NULL &&
        (c->imap->imap_selection_info->sel_has_exists ||
         c->imap->imap_selection_info->sel_has_recent))
        return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Delete                                                              */

static int
delete_batch(struct imap_conn *c, const uint32_t *u, size_t n,
             bool *expunged_all, struct pb_err *err)
{
    struct mailimap_set *set = mailimap_set_new_empty();
    struct mailimap_flag_list *flags = NULL;
    struct mailimap_store_att_flags *store = NULL;
    struct mailimap_flag *deleted = NULL;
    int r, rc = 0;

    if (set == NULL)
        goto nomem;
    for (size_t i = 0; i < n;) {
        size_t j = i;

        while (j + 1 < n && u[j + 1] == u[j] + 1)
            j++;
        if (mailimap_set_add_interval(set, u[i], u[j]) != MAILIMAP_NO_ERROR)
            goto nomem;
        i = j + 1;
    }
    flags = mailimap_flag_list_new_empty();
    deleted = mailimap_flag_new_deleted();
    if (flags == NULL || deleted == NULL)
        goto nomem;
    if (mailimap_flag_list_add(flags, deleted) != MAILIMAP_NO_ERROR)
        goto nomem;
    deleted = NULL;
    store = mailimap_store_att_flags_new_add_flags_silent(flags);
    if (store == NULL)
        goto nomem;
    flags = NULL;

    cmd_start_reply(c, PB_STAGE_IMAP, "UID STORE");
    r = mailimap_uid_store(c->imap, set, store);
    if (r != MAILIMAP_NO_ERROR) {
        rc = etpan_fail(c, r, "UID STORE", err);
        goto out;
    }
    if (c->has_uidplus) {
        cmd_start_reply(c, PB_STAGE_IMAP, "UID EXPUNGE");
        r = mailimap_uid_expunge(c->imap, set);
        if (r != MAILIMAP_NO_ERROR)
            rc = etpan_fail(c, r, "UID EXPUNGE", err);
    } else {
        cmd_start_reply(c, PB_STAGE_IMAP, "EXPUNGE");
        r = mailimap_expunge(c->imap);
        if (r != MAILIMAP_NO_ERROR)
            rc = etpan_fail(c, r, "EXPUNGE", err);
        else
            *expunged_all = true;
    }
    goto out;

nomem:
    rc = conn_err(c, err, PB_STAGE_IMAP, PB_E_INTERNAL, NULL, 0,
                  "out of memory");
out:
    if (deleted != NULL)
        mailimap_flag_free(deleted);
    if (flags != NULL)
        mailimap_flag_list_free(flags);
    if (store != NULL)
        mailimap_store_att_flags_free(store);
    if (set != NULL)
        mailimap_set_free(set);
    return rc;
}

int
imap_delete(struct imap_conn *c, const uint32_t *uids, size_t n,
            bool *expunged_all, struct pb_err *err)
{
    uint32_t *u;
    size_t k = 0;
    int rc = 0;

    *expunged_all = false;
    pb_err_clear(err);
    if (check_usable(c, err) < 0 || check_selected(c, err) < 0)
        return -1;
    if (c->is_readonly)
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, NULL, 0,
                        "the mailbox was opened read-only (EXAMINE): SELECT "
                        "it to delete");
    if (n == 0)
        return 0;
    if (n > IMAP_LIMIT_UIDS)
        return conn_err(c, err, PB_STAGE_USAGE, PB_E_USAGE, NULL, 0,
                        "%zu UIDs to delete, at most %u", n,
                        (unsigned)IMAP_LIMIT_UIDS);
    u = pb_xreallocarray(NULL, n, sizeof(*u));
    for (size_t i = 0; i < n; i++)
        if (uids[i] != 0)
            u[k++] = uids[i];
    qsort(u, k, sizeof(*u), cmp_u32);
    for (size_t i = 0; i < k && rc == 0; i += DELETE_BATCH)
        rc = delete_batch(c, u + i, k - i < DELETE_BATCH ? k - i : DELETE_BATCH,
                          expunged_all, err);
    free(u);
    return rc;
}
