/* SPDX-License-Identifier: MIT */
/*
 * SMTP sessions through libcurl's multi interface.
 *
 * libcurl drives the protocol (greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT,
 * DATA) and reuses connections; we watch every byte through its debug
 * callback: server bytes go to the reply parser (smtp_reply.c) and, with
 * the client's commands, to the job's transcript (redacted at capture by
 * pb_transcript).  From the commands we know the stage, and from the
 * parsed replies the verdict, so a job's outcome never depends on the
 * wording of libcurl's error messages.  Deadlines are ours, per stage:
 * the loop removes a transfer whose current stage has run out of time,
 * which closes its connection.
 */
#include "smtp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "pb_clock.h"
#include "pb_signal.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_transcript.h"
#include "pb_xalloc.h"
#include "smtp_reply.h"
#include "smtp_tls.h"

/* What the session is waiting for, to pick a deadline. */
enum wait_for {
    WAIT_NOTHING = 0, /* not started (pending in the multi handle) */
    WAIT_CONNECT,     /* TCP connect (and TLS for smtps://) */
    WAIT_GREETING,
    WAIT_REPLY,  /* the reply to a command */
    WAIT_TLS,    /* the handshake after the STARTTLS 220 */
    WAIT_CLIENT, /* libcurl's next command: instant, bounded anyway */
    WAIT_DATA,   /* the message and the reply to its end */
};

/* The command a reply answers. */
enum cmd {
    CMD_NONE = 0, /* the greeting */
    CMD_EHLO,
    CMD_HELO,
    CMD_STARTTLS,
    CMD_AUTH,
    CMD_MAIL,
    CMD_RCPT,
    CMD_DATA,
    CMD_EOD, /* the end of the message */
    CMD_RSET,
    CMD_QUIT,
    CMD_OTHER,
};

/* Sockets by libcurl connection number (#N in its messages). */
struct conn_table {
    curl_socket_t *fds;
    size_t n;
};

/* One job in flight. */
struct session {
    struct smtp_job *job;
    const struct smtp_relay *relay;
    CURL *easy;
    struct curl_slist *rcpt_list;
    size_t read_off; /* bytes of the message handed to libcurl */
    char errbuf[CURL_ERROR_SIZE];

    struct smtp_reply_parser parser;
    enum cmd cmd; /* what the next reply answers */
    bool has_greeting;
    bool is_reused;
    bool in_sasl;     /* between AUTH and its final reply */
    bool sent_auth;   /* AUTH went out on this connection */
    bool tls_started; /* STARTTLS answered 220, or smtps:// */
    bool in_data;     /* 354 received: the message is being sent */
    bool tls_checked; /* TLS facts taken */
    bool is_data_noted;
    size_t data_bytes;
    size_t nrcpt_done;

    /* The decisive refusal: the last 4xx/5xx reply to a command. */
    int refused_code;
    char refused_status[16];
    enum pb_stage refused_stage;
    char refused_text[512];
    char refused_cmd[16];

    /* Set by the callbacks: stop this transfer with this error. */
    bool is_aborted;
    bool is_timed_out; /* the deadline passed inside libcurl */
    struct pb_err abort_err;

    /* The connection's socket, to cut it when we stop the transfer, and
       the table of sockets by libcurl's connection number that reused
       connections find theirs in. */
    curl_socket_t fd;
    struct conn_table *conns;

    enum wait_for wait;
    int64_t deadline_ms; /* monotonic; 0: none */
    int64_t started_ms;
    long conn_id;
};

static int64_t
now_ms(void)
{
    return pb_clock_mono_ms();
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

const char *
smtp_tls_name(enum smtp_tls tls)
{
    switch (tls) {
    case SMTP_TLS_STARTTLS:
        return "starttls";
    case SMTP_TLS_IMPLICIT:
        return "tls";
    case SMTP_TLS_NONE:
        return "none";
    }
    return "unknown";
}

const char *
smtp_auth_name(enum smtp_auth auth)
{
    switch (auth) {
    case SMTP_AUTH_NONE:
        return "none";
    case SMTP_AUTH_AUTO:
        return "auto";
    case SMTP_AUTH_PLAIN:
        return "plain";
    case SMTP_AUTH_LOGIN:
        return "login";
    case SMTP_AUTH_XOAUTH2:
        return "xoauth2";
    }
    return "unknown";
}

int
smtp_tls_parse(const char *s, enum smtp_tls *out)
{
    if (strcmp(s, "starttls") == 0)
        *out = SMTP_TLS_STARTTLS;
    else if (strcmp(s, "tls") == 0)
        *out = SMTP_TLS_IMPLICIT;
    else if (strcmp(s, "none") == 0)
        *out = SMTP_TLS_NONE;
    else
        return -1;
    return 0;
}

int
smtp_auth_parse(const char *s, enum smtp_auth *out)
{
    static const struct {
        const char *name;
        enum smtp_auth auth;
    } names[] = {
        {"none", SMTP_AUTH_NONE},       {"auto", SMTP_AUTH_AUTO},
        {"plain", SMTP_AUTH_PLAIN},     {"login", SMTP_AUTH_LOGIN},
        {"xoauth2", SMTP_AUTH_XOAUTH2},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].auth;
            return 0;
        }
    }
    return -1;
}

const char *
smtp_outcome_name(enum smtp_outcome o)
{
    switch (o) {
    case SMTP_ACCEPTED:
        return "accepted";
    case SMTP_DEFERRED:
        return "deferred";
    case SMTP_REJECTED:
        return "rejected";
    case SMTP_FAILED:
        return "failed";
    }
    return "unknown";
}

int
smtp_global_init(struct pb_err *err)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (rc != CURLE_OK)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                          "libcurl would not start: %s",
                          curl_easy_strerror(rc));
    smtp_tls_load(); /* with libcurl, before any session */
    return 0;
}

void
smtp_job_release(struct smtp_job *job)
{
    free(job->rcpts);
    job->rcpts = NULL;
    pb_transcript_free(job->transcript);
    job->transcript = NULL;
}

/* ------------------------------------------------------------------ */
/* Deadlines                                                           */

static long
timeout_of(const struct smtp_relay *relay, enum wait_for w)
{
    const struct smtp_timeouts *t = &relay->timeouts;

    switch (w) {
    case WAIT_NOTHING:
        return 0;
    case WAIT_CONNECT:
    case WAIT_TLS:
        return t->connect_ms > 0 ? t->connect_ms : SMTP_TIMEOUT_CONNECT;
    case WAIT_GREETING:
        return t->greeting_ms > 0 ? t->greeting_ms : SMTP_TIMEOUT_GREETING;
    case WAIT_REPLY:
    case WAIT_CLIENT:
        return t->command_ms > 0 ? t->command_ms : SMTP_TIMEOUT_COMMAND;
    case WAIT_DATA:
        return t->data_ms > 0 ? t->data_ms : SMTP_TIMEOUT_DATA;
    }
    return SMTP_TIMEOUT_COMMAND;
}

static void
wait_for(struct session *s, enum wait_for w)
{
    /* The message streams under one deadline until its final reply. */
    if (s->wait == WAIT_DATA && w == WAIT_CLIENT)
        return;
    s->wait = w;
    s->deadline_ms = w == WAIT_NOTHING ? 0 : now_ms() + timeout_of(s->relay, w);
}

static const char *
wait_words(enum wait_for w)
{
    switch (w) {
    case WAIT_NOTHING:
        return "waiting for a connection";
    case WAIT_CONNECT:
        return "connecting";
    case WAIT_GREETING:
        return "waiting for the greeting";
    case WAIT_REPLY:
        return "waiting for a reply";
    case WAIT_TLS:
        return "in the TLS handshake";
    case WAIT_CLIENT:
        return "between commands";
    case WAIT_DATA:
        return "sending the message and waiting for its reply";
    }
    return "waiting";
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */

static void note(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note(struct session *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    pb_transcript_add(s->job->transcript, PB_DIR_NOTE, line, (size_t)n);
}

static void
abort_session(struct session *s, const struct pb_err *err)
{
    if (s->is_aborted)
        return;
    s->is_aborted = true;
    s->abort_err = *err;
}

static enum pb_stage
stage_of(enum cmd c)
{
    switch (c) {
    case CMD_NONE:
        return PB_STAGE_GREETING;
    case CMD_EHLO:
    case CMD_HELO:
        return PB_STAGE_EHLO;
    case CMD_STARTTLS:
        return PB_STAGE_TLS;
    case CMD_AUTH:
        return PB_STAGE_AUTH;
    case CMD_MAIL:
    case CMD_RSET:
        return PB_STAGE_MAIL;
    case CMD_RCPT:
        return PB_STAGE_RCPT;
    case CMD_DATA:
    case CMD_EOD:
        return PB_STAGE_DATA;
    case CMD_QUIT:
        return PB_STAGE_QUIT;
    case CMD_OTHER:
        break;
    }
    return PB_STAGE_MAIL;
}

static bool
starts_with_ci(const char *p, size_t len, const char *word)
{
    size_t n = strlen(word);

    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        if (c != (unsigned char)word[i])
            return false;
    }
    return len == n || p[n] == ' ' || p[n] == '\r' || p[n] == '\n' ||
           p[n] == ':';
}

static enum cmd
cmd_of(const char *p, size_t len)
{
    static const struct {
        const char *word;
        enum cmd cmd;
    } words[] = {
        {"EHLO", CMD_EHLO}, {"HELO", CMD_HELO}, {"STARTTLS", CMD_STARTTLS},
        {"AUTH", CMD_AUTH}, {"MAIL", CMD_MAIL}, {"RCPT", CMD_RCPT},
        {"DATA", CMD_DATA}, {"RSET", CMD_RSET}, {"QUIT", CMD_QUIT},
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (starts_with_ci(p, len, words[i].word))
            return words[i].cmd;
    }
    return CMD_OTHER;
}

/* Take the TLS facts once the handshake is done (smtp_tls.c). */
static void
check_tls(struct session *s)
{
    struct curl_tlssessioninfo *info = NULL;

    if (s->tls_checked || !s->tls_started)
        return;
    if (curl_easy_getinfo(s->easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK ||
        info == NULL || info->internals == NULL)
        return;
    s->tls_checked = true;
    smtp_tls_facts(info, !s->relay->insecure, &s->job->tls);
    note(s,
         "TLS %s, %s; certificate subject \"%s\", issuer \"%s\", "
         "expires %s; %s",
         s->job->tls.version, s->job->tls.cipher, s->job->tls.subject,
         s->job->tls.issuer, s->job->tls.not_after,
         s->job->tls.verified ? "verified" : s->job->tls.verify_result);
}

static void
on_client(struct session *s, const char *p, size_t len)
{
    struct smtp_job *job = s->job;
    enum cmd c;

    pb_transcript_add_client(job->transcript, p, len);
    check_tls(s);
    if (s->in_sasl) {
        wait_for(s, WAIT_REPLY);
        return;
    }
    c = cmd_of(p, len);
    if (c == CMD_MAIL) {
        /* libcurl goes on without AUTH when the server offers none (or
           none it can use): that is a silent downgrade we refuse. */
        if (s->relay->auth != SMTP_AUTH_NONE && !s->sent_auth &&
            !s->is_reused) {
            struct pb_err e = {0};

            pb_err_set(&e, PB_STAGE_AUTH, PB_E_PERMFAIL,
                       "AUTH %s is configured but the server offered no "
                       "usable AUTH mechanism in its EHLO reply; stopped "
                       "before any recipient",
                       smtp_auth_name(s->relay->auth));
            abort_session(s, &e);
        }
    }
    if (c == CMD_AUTH) {
        s->in_sasl = true;
        s->sent_auth = true;
    }
    if (c == CMD_RSET || c == CMD_MAIL)
        s->in_data = false;
    s->cmd = c;
    job->stage = stage_of(c);
    wait_for(s, WAIT_REPLY);
}

static void
copy_reply_text(char *dst, size_t size, const struct smtp_reply *r)
{
    struct pb_buf b;
    char *text;
    size_t len;

    pb_buf_init(&b, 4096);
    for (size_t i = 0; i < r->nlines; i++) {
        if ((i > 0 && pb_buf_add(&b, " ", 1) < 0) ||
            pb_buf_add(&b, r->lines[i], r->line_lens[i]) < 0)
            break;
    }
    text = pb_buf_take(&b, &len);
    if (pb_escape_to(dst, size, text ? text : "", text ? len : 0) < 0 &&
        size > 4)
        memcpy(dst + size - 4, "...", 4);
    free(text);
}

static void
on_reply(struct session *s, const struct smtp_reply *r)
{
    struct smtp_job *job = s->job;
    enum cmd c = s->cmd;
    enum pb_stage stage = stage_of(c);

    if (c == CMD_NONE) {
        s->has_greeting = true;
        job->stage = PB_STAGE_GREETING;
    }
    if (c == CMD_AUTH && r->code != 334)
        s->in_sasl = false;
    if (c == CMD_RCPT && s->nrcpt_done < job->nrcpt) {
        struct smtp_rcpt_result *rr = &job->rcpts[s->nrcpt_done++];

        rr->code = r->code;
        memcpy(rr->status, r->status, sizeof(rr->status));
        copy_reply_text(rr->text, sizeof(rr->text), r);
    }
    if (c == CMD_DATA && r->code == 354) {
        s->in_data = true;
        s->cmd = CMD_EOD;
        job->stage = PB_STAGE_DATA;
        wait_for(s, WAIT_DATA);
        return;
    }
    if (c == CMD_EOD) {
        job->final_code = r->code;
        memcpy(job->final_status, r->status, sizeof(job->final_status));
        copy_reply_text(job->final_text, sizeof(job->final_text), r);
        s->in_data = false;
    }
    if (r->code >= 400 && c != CMD_QUIT) {
        s->refused_code = r->code;
        memcpy(s->refused_status, r->status, sizeof(s->refused_status));
        s->refused_stage = stage;
        copy_reply_text(s->refused_text, sizeof(s->refused_text), r);
    }
    if (c == CMD_STARTTLS && r->code == 220) {
        s->tls_started = true;
        /* RFC 3207 §5: anything after the 220 came before TLS and must
           not be trusted; libcurl refuses it too, we say why. */
        if (smtp_reply_parser_pending(&s->parser)) {
            struct pb_err e = {0};

            pb_err_set(&e, PB_STAGE_TLS, PB_E_SYNTAX,
                       "the server sent more data after its STARTTLS 220, "
                       "before TLS began (RFC 3207 section 5: a response "
                       "injection); not trusted, session stopped");
            abort_session(s, &e);
        }
        wait_for(s, WAIT_TLS);
        return;
    }
    wait_for(s, WAIT_CLIENT);
    if (!(c == CMD_AUTH && r->code == 334))
        s->cmd = CMD_OTHER;
}

static void
on_server(struct session *s, const char *p, size_t len)
{
    struct pb_err e = {0};
    struct smtp_reply r;

    if (s->in_data && s->data_bytes > 0 && !s->is_data_noted) {
        s->is_data_noted = true;
        note(s,
             "message: %zu of %zu octets sent, then <CRLF>.<CRLF> (the "
             "message is in the report, not in this transcript)",
             s->data_bytes, s->job->msg_len);
    }
    pb_transcript_add_server(s->job->transcript, p, len);
    if (!s->has_greeting && s->cmd == CMD_NONE && s->wait == WAIT_CONNECT)
        wait_for(s, WAIT_GREETING);
    smtp_reply_parser_set_stage(&s->parser, stage_of(s->cmd));
    if (smtp_reply_feed(&s->parser, p, len, &e) < 0) {
        abort_session(s, &e);
        return;
    }
    while (smtp_reply_next(&s->parser, &r)) {
        on_reply(s, &r);
        smtp_reply_release(&r);
    }
}

/* libcurl's own words, for connection facts only (never its protocol
   chatter, which could one day hold more than we want to keep). */
static void
on_text(struct session *s, const char *p, size_t len)
{
    const char *hash;
    char line[256];

    if (len >= sizeof(line))
        len = sizeof(line) - 1;
    memcpy(line, p, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';

    if (strncmp(line, "Connected to ", 13) == 0 && !s->is_reused) {
        if ((hash = strstr(line, "(#")) != NULL)
            s->conn_id = strtol(hash + 2, NULL, 10);
        if (s->conn_id >= 0 && (size_t)s->conn_id < s->conns->n)
            s->conns->fds[s->conn_id] = s->fd;
        s->job->stage = s->relay->tls == SMTP_TLS_IMPLICIT ? PB_STAGE_TLS
                                                           : PB_STAGE_GREETING;
        note(s, "%s", line);
        if (s->relay->tls == SMTP_TLS_IMPLICIT) {
            s->tls_started = true;
            wait_for(s, WAIT_TLS);
        } else {
            wait_for(s, WAIT_GREETING);
        }
    } else if (strncmp(line, "Re-using existing connection", 28) == 0) {
        s->is_reused = true;
        s->has_greeting = true;
        s->tls_started = s->relay->tls != SMTP_TLS_NONE;
        if ((hash = strstr(line, "#")) != NULL)
            s->conn_id = strtol(hash + 1, NULL, 10);
        if (s->conn_id >= 0 && (size_t)s->conn_id < s->conns->n)
            s->fd = s->conns->fds[s->conn_id];
        note(s,
             "connection #%ld reused: its greeting, EHLO%s are in the "
             "transcript of the message that opened it",
             s->conn_id, s->relay->auth != SMTP_AUTH_NONE ? " and AUTH" : "");
        wait_for(s, WAIT_CLIENT);
    } else if (strncmp(line, "Too large response headers", 26) == 0 ||
               strncmp(line, "Too large response", 18) == 0) {
        struct pb_err e = {0};

        pb_err_set(&e, stage_of(s->cmd), PB_E_LIMIT,
                   "the server's replies exceed the %d octets libcurl takes "
                   "in one session (a reply of thousands of lines)",
                   300 * 1024);
        abort_session(s, &e);
    } else if (strncmp(line, "Excessive server response line", 30) == 0) {
        struct pb_err e = {0};

        pb_err_set(&e, stage_of(s->cmd), PB_E_LIMIT,
                   "a reply line longer than libcurl's buffer (RFC 5321 "
                   "allows %d octets); not a usable SMTP reply",
                   PB_LIMIT_REPLY_LINE);
        pb_err_evidence(&e, line, strlen(line));
        abort_session(s, &e);
    } else if (s->wait == WAIT_TLS && s->tls_started &&
               strncmp(line, "SSL connection using", 20) == 0) {
        /* the handshake is done; the greeting (smtps) or EHLO follows */
        wait_for(s, s->has_greeting ? WAIT_CLIENT : WAIT_GREETING);
    }
}

static int
debug_cb(CURL *h, curl_infotype type, char *p, size_t len, void *arg)
{
    struct session *s = arg;

    (void)h;
    switch (type) {
    case CURLINFO_TEXT:
        on_text(s, p, len);
        break;
    case CURLINFO_HEADER_IN:
        on_server(s, p, len);
        break;
    case CURLINFO_HEADER_OUT:
        on_client(s, p, len);
        break;
    case CURLINFO_DATA_OUT:
        if (s->data_bytes == 0)
            wait_for(s, WAIT_DATA);
        s->data_bytes += len;
        break;
    default:
        break;
    }
    return 0;
}

static int
sockopt_cb(void *arg, curl_socket_t fd, curlsocktype purpose)
{
    struct session *s = arg;

    if (purpose == CURLSOCKTYPE_IPCXN)
        s->fd = fd;
    return CURL_SOCKOPT_OK;
}

/*
 * Stop a transfer now.  Removing a handle mid-transfer is not enough:
 * libcurl then ends the SMTP transaction politely (the end of data, QUIT)
 * and waits for replies a silent server never sends, up to its own
 * timeout.  A shut-down socket makes that fail at once.
 */
static void
session_kill(struct session *s, CURLM *multi)
{
    if (s->fd != CURL_SOCKET_BAD)
        shutdown(s->fd, SHUT_RDWR);
    curl_multi_remove_handle(multi, s->easy);
}

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct session *s = arg;
    size_t room = size * nmemb;
    size_t left = s->job->msg_len - s->read_off;
    size_t n = left < room ? left : room;

    memcpy(dst, s->job->msg + s->read_off, n);
    s->read_off += n;
    return n;
}

/*
 * Abort the transfer from inside libcurl when a callback said so, or when
 * the stage's deadline passed: libcurl 7.88 waits for the reply to the end
 * of the message inside curl_multi_perform (smtp_done), where our loop
 * cannot see it, but it calls this at least once a second while it waits.
 */
static int
xferinfo_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
            curl_off_t un)
{
    struct session *s = arg;

    (void)dt, (void)dn, (void)ut, (void)un;
    if (s->deadline_ms != 0 && now_ms() >= s->deadline_ms)
        s->is_timed_out = true;
    if (!s->is_aborted && !s->is_timed_out)
        return 0;
    /* libcurl would say QUIT and wait for the answer: no */
    if (s->fd != CURL_SOCKET_BAD)
        shutdown(s->fd, SHUT_RDWR);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Setting up a transfer                                               */

/* RFC 5321 envelope address as libcurl will send it: nothing that could
   end the command or open another (older libcurl sends CR/LF verbatim). */
static int
envelope_check(const char *addr, bool may_be_empty, enum pb_stage stage,
               struct pb_err *err)
{
    size_t len = strlen(addr);

    if (len == 0 && may_be_empty)
        return 0;
    if (len == 0 || len > PB_LIMIT_ADDRESS)
        return pb_err_set(err, stage, PB_E_SYNTAX,
                          "envelope address of %zu octets (1 to %d allowed)",
                          len, PB_LIMIT_ADDRESS);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)addr[i];

        if (c < 0x21 || c == 0x7f || c == '<' || c == '>') {
            pb_err_set(err, stage, PB_E_SYNTAX,
                       "envelope address with a control character, space, "
                       "'<' or '>' at offset %zu; refused before sending",
                       i);
            pb_err_evidence(err, addr, len);
            return -1;
        }
    }
    if (strchr(addr, '@') == NULL) {
        pb_err_set(err, stage, PB_E_SYNTAX, "envelope address without '@'");
        pb_err_evidence(err, addr, len);
        return -1;
    }
    return 0;
}

static int
relay_check(const struct smtp_relay *relay, struct pb_err *err)
{
    const char *strs[] = {relay->host, relay->address, relay->ca_file,
                          relay->helo, relay->source,  relay->user};

    if (relay->host == NULL || relay->host[0] == '\0')
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "the relay has no host");
    if (relay->port == 0 || relay->port > 65535)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "relay port %u out of range 1..65535", relay->port);
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strs[i] == NULL)
            continue;
        for (const char *q = strs[i]; *q != '\0'; q++) {
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                                  "a relay setting holds a control "
                                  "character");
        }
    }
    if (strpbrk(relay->host, "/@?#[] ") != NULL &&
        !(relay->host[0] == '[' && relay->host[strlen(relay->host) - 1] == ']'))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "relay host \"%.100s\" is not a host name",
                          relay->host);
    if (relay->helo != NULL && strpbrk(relay->helo, "/?# ") != NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "EHLO name \"%.100s\" is not a domain or literal",
                          relay->helo);
    if (relay->auth != SMTP_AUTH_NONE &&
        (relay->user == NULL || relay->secret == NULL))
        return pb_err_set(
            err, PB_STAGE_CONFIG, PB_E_USAGE, "AUTH %s needs a user and a %s",
            smtp_auth_name(relay->auth),
            relay->auth == SMTP_AUTH_XOAUTH2 ? "token" : "password");
    return 0;
}

static const char *
default_helo(void)
{
    static char name[256];

    if (name[0] == '\0') {
        if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0')
            snprintf(name, sizeof(name), "localhost");
        name[sizeof(name) - 1] = '\0';
    }
    return name;
}

#define SETOPT(h, opt, val)                                  \
    do {                                                     \
        if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) \
            goto fail_opt;                                   \
    } while (0)

static int
session_setup(struct session *s, struct curl_slist *resolve, struct pb_err *err)
{
    const struct smtp_relay *relay = s->relay;
    struct smtp_job *job = s->job;
    char url[600];
    char iface[300];
    const char *helo = relay->helo ? relay->helo : default_helo();
    long total_ms;

    snprintf(url, sizeof(url), "%s://%s:%u/%s",
             relay->tls == SMTP_TLS_IMPLICIT ? "smtps" : "smtp", relay->host,
             relay->port, helo);
    s->easy = curl_easy_init();
    if (s->easy == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                          "libcurl could not make a handle");
    for (size_t i = 0; i < job->nrcpt; i++) {
        struct curl_slist *n = curl_slist_append(s->rcpt_list, job->rcpt[i]);

        if (n == NULL)
            goto fail_opt;
        s->rcpt_list = n;
    }

    SETOPT(s->easy, CURLOPT_URL, url);
    SETOPT(s->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    SETOPT(s->easy, CURLOPT_NOSIGNAL, 1L);
    SETOPT(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
    SETOPT(s->easy, CURLOPT_VERBOSE, 1L);
    SETOPT(s->easy, CURLOPT_DEBUGFUNCTION, debug_cb);
    SETOPT(s->easy, CURLOPT_DEBUGDATA, s);
    SETOPT(s->easy, CURLOPT_NOPROGRESS, 0L);
    SETOPT(s->easy, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    SETOPT(s->easy, CURLOPT_XFERINFODATA, s);
    SETOPT(s->easy, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    SETOPT(s->easy, CURLOPT_SOCKOPTDATA, s);
    SETOPT(s->easy, CURLOPT_READFUNCTION, read_cb);
    SETOPT(s->easy, CURLOPT_READDATA, s);
    SETOPT(s->easy, CURLOPT_UPLOAD, 1L);
    SETOPT(s->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->msg_len);
    SETOPT(s->easy, CURLOPT_MAIL_FROM, job->mail_from);
    SETOPT(s->easy, CURLOPT_MAIL_RCPT, s->rcpt_list);
    SETOPT(s->easy, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
    if (resolve != NULL)
        SETOPT(s->easy, CURLOPT_RESOLVE, resolve);
    if (relay->source != NULL) {
        snprintf(iface, sizeof(iface), "host!%s", relay->source);
        SETOPT(s->easy, CURLOPT_INTERFACE, iface);
    }
    /* Our deadlines are per stage (the loop enforces them); libcurl's
       are a backstop for what we cannot see, such as name resolution. */
    total_ms = timeout_of(relay, WAIT_CONNECT) * 2 +
               timeout_of(relay, WAIT_GREETING) +
               timeout_of(relay, WAIT_REPLY) * 12;
    SETOPT(s->easy, CURLOPT_CONNECTTIMEOUT_MS, total_ms);
    SETOPT(s->easy, CURLOPT_TIMEOUT_MS,
           total_ms + timeout_of(relay, WAIT_DATA));
    SETOPT(s->easy, CURLOPT_SERVER_RESPONSE_TIMEOUT,
           (timeout_of(relay, WAIT_DATA) + 999) / 1000);

    if (relay->tls == SMTP_TLS_STARTTLS)
        SETOPT(s->easy, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    else if (relay->tls == SMTP_TLS_NONE)
        SETOPT(s->easy, CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
    if (relay->tls != SMTP_TLS_NONE) {
        SETOPT(s->easy, CURLOPT_SSL_VERIFYPEER, relay->insecure ? 0L : 1L);
        SETOPT(s->easy, CURLOPT_SSL_VERIFYHOST, relay->insecure ? 0L : 2L);
        if (relay->ca_file != NULL)
            SETOPT(s->easy, CURLOPT_CAINFO, relay->ca_file);
    }

    if (relay->auth != SMTP_AUTH_NONE) {
        static const char *const opts[] = {
            [SMTP_AUTH_AUTO] = "AUTH=*",
            [SMTP_AUTH_PLAIN] = "AUTH=PLAIN",
            [SMTP_AUTH_LOGIN] = "AUTH=LOGIN",
            [SMTP_AUTH_XOAUTH2] = "AUTH=XOAUTH2",
        };

        SETOPT(s->easy, CURLOPT_USERNAME, relay->user);
        if (relay->auth == SMTP_AUTH_XOAUTH2)
            SETOPT(s->easy, CURLOPT_XOAUTH2_BEARER, relay->secret);
        else
            SETOPT(s->easy, CURLOPT_PASSWORD, relay->secret);
        SETOPT(s->easy, CURLOPT_LOGIN_OPTIONS, opts[relay->auth]);
        SETOPT(s->easy, CURLOPT_SASL_IR, 1L);
    }
    return 0;

fail_opt:
    return pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                      "libcurl refused a setting (a libcurl without SMTP, "
                      "TLS or a feature this probe needs)");
}

/* ------------------------------------------------------------------ */
/* Verdicts                                                            */

static enum pb_code
code_of_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return PB_E_TIMEOUT;
    case CURLE_WEIRD_SERVER_REPLY:
        return PB_E_SYNTAX;
    case CURLE_OUT_OF_MEMORY:
        return PB_E_INTERNAL;
    default:
        return PB_E_NETWORK;
    }
}

/* A job the run never started: a stop was asked for first. */
static void
job_not_sent(struct smtp_job *job)
{
    job->outcome = SMTP_FAILED;
    job->stage = PB_STAGE_CONNECT;
    pb_err_set(&job->err, PB_STAGE_CONNECT, PB_E_INTERNAL,
               "not sent: the probe was asked to stop (signal %d)",
               pb_signal_which());
}

static void
finish(struct session *s, CURLcode rc, bool timed_out)
{
    struct smtp_job *job = s->job;
    struct pb_err *err = &job->err;

    pb_transcript_flush(job->transcript);
    job->elapsed_ms = now_ms() - s->started_ms;
    job->connection = s->conn_id;
    job->reused = s->is_reused;
    if (s->data_bytes > 0 && !s->is_data_noted)
        note(s, "message: %zu of %zu octets sent, no reply to it",
             s->data_bytes, job->msg_len);

    if (timed_out) {
        const char *what = wait_words(s->wait);

        pb_err_set(err, job->stage, PB_E_TIMEOUT,
                   "no progress in %.1f s %s (deadline of the %s stage)",
                   (double)timeout_of(s->relay, s->wait) / 1000.0, what,
                   pb_stage_name(job->stage));
        if (smtp_reply_parser_pending(&s->parser))
            pb_err_evidence(err, "a partial reply was received", 27);
        job->outcome = SMTP_FAILED;
        note(s, "stopped: %s", err->msg);
        return;
    }
    if (s->is_aborted) {
        *err = s->abort_err;
        if (err->stage == PB_STAGE_NONE)
            err->stage = job->stage;
        job->outcome = SMTP_FAILED;
        note(s, "stopped: %s", err->msg);
        return;
    }
    if (rc == CURLE_OK && job->final_code >= 200 && job->final_code < 300) {
        job->outcome = SMTP_ACCEPTED;
        job->stage = PB_STAGE_DATA;
        return;
    }
    if (s->refused_code != 0) {
        bool is_temp = s->refused_code < 500;

        job->outcome = is_temp ? SMTP_DEFERRED : SMTP_REJECTED;
        pb_err_set(err, s->refused_stage,
                   is_temp ? PB_E_TEMPFAIL : PB_E_PERMFAIL,
                   "the server answered %d %s at the %s stage", s->refused_code,
                   s->refused_status[0] ? s->refused_status : "",
                   pb_stage_name(s->refused_stage));
        err->reply = s->refused_code;
        memcpy(err->status, s->refused_status, sizeof(err->status));
        snprintf(err->evidence, sizeof(err->evidence), "%s", s->refused_text);
        job->stage = s->refused_stage;
        return;
    }
    job->outcome = SMTP_FAILED;
    if (rc == CURLE_USE_SSL_FAILED) {
        pb_err_set(err, PB_STAGE_TLS, PB_E_NETWORK,
                   "the server does not offer STARTTLS and TLS is required "
                   "(no fallback to plain text; a profile may set "
                   "\"tls\": \"none\")");
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION ||
               rc == CURLE_SSL_CONNECT_ERROR ||
               rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
        pb_err_set(err, PB_STAGE_TLS, PB_E_NETWORK, "TLS failed: %s",
                   s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
        snprintf(job->tls.verify_result, sizeof(job->tls.verify_result), "%.*s",
                 (int)sizeof(job->tls.verify_result) - 1,
                 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    } else if (rc == CURLE_WEIRD_SERVER_REPLY && s->tls_started &&
               job->stage == PB_STAGE_TLS) {
        pb_err_set(err, PB_STAGE_TLS, PB_E_SYNTAX,
                   "the server sent more data after its STARTTLS 220, before "
                   "TLS began (RFC 3207 section 5: a response injection); "
                   "not trusted, session stopped");
    } else if (rc == CURLE_COULDNT_RESOLVE_HOST) {
        pb_err_set(err, PB_STAGE_CONNECT, PB_E_NETWORK,
                   "cannot resolve the relay host %s", s->relay->host);
    } else if (rc == CURLE_COULDNT_CONNECT ||
               (!s->has_greeting && rc == CURLE_OPERATION_TIMEDOUT &&
                s->wait == WAIT_CONNECT)) {
        pb_err_set(err, PB_STAGE_CONNECT, code_of_curl(rc),
                   "cannot connect to %s port %u: %s", s->relay->host,
                   s->relay->port,
                   s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    } else if (rc == CURLE_OK) {
        pb_err_set(err, PB_STAGE_DATA, PB_E_SYNTAX,
                   "the transfer ended without a final reply to the message");
    } else if (job->stage == PB_STAGE_DATA && s->data_bytes > 0 &&
               job->final_code == 0) {
        pb_err_set(err, PB_STAGE_DATA, code_of_curl(rc),
                   "the connection ended after the message was sent and "
                   "before the server answered it: it may or may not have "
                   "been accepted (%s)",
                   s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    } else {
        pb_err_set(err, job->stage, code_of_curl(rc), "%s",
                   s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    }
    if (err->stage == PB_STAGE_CONNECT || err->stage == PB_STAGE_TLS)
        job->stage = err->stage;
    note(s, "failed: %s", err->msg);
}

static void
session_release(struct session *s)
{
    if (s->easy != NULL)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->rcpt_list);
    smtp_reply_parser_release(&s->parser);
    memset(s, 0, sizeof(*s));
}

static int
job_start(struct session *s, CURLM *multi, struct smtp_job *job,
          const struct smtp_relay *relay, struct curl_slist *resolve,
          struct conn_table *conns)
{
    struct pb_err e = {0};

    memset(s, 0, sizeof(*s));
    s->job = job;
    s->relay = relay;
    s->fd = CURL_SOCKET_BAD;
    s->conn_id = -1;
    s->conns = conns;
    smtp_reply_parser_init(&s->parser, PB_STAGE_GREETING);
    job->rcpts = pb_xcalloc(job->nrcpt ? job->nrcpt : 1, sizeof(*job->rcpts));
    job->transcript = pb_transcript_new(PB_LIMIT_TRANSCRIPT_BYTES);
    job->stage = PB_STAGE_CONNECT;
    job->outcome = SMTP_FAILED;
    pb_err_clear(&job->err);
    for (size_t i = 0; i < job->nrcpt; i++)
        snprintf(job->rcpts[i].addr, sizeof(job->rcpts[i].addr), "%s",
                 job->rcpt[i]);
    s->started_ms = now_ms();
    if (relay->helo == NULL && strchr(default_helo(), '.') == NULL)
        note(s,
             "EHLO name \"%s\" (this host's name) is not a fully "
             "qualified domain name (RFC 5321 section 4.1.1.1); relays "
             "such as smtp-relay.gmail.com may refuse or misidentify "
             "it: set \"helo\" in the profile or --set helo=NAME",
             default_helo());

    if (envelope_check(job->mail_from, true, PB_STAGE_MAIL, &e) < 0)
        goto refuse;
    if (job->nrcpt == 0 || job->nrcpt > PB_LIMIT_MSG_TO) {
        pb_err_set(&e, PB_STAGE_RCPT, PB_E_USAGE,
                   "%zu recipients (1 to %d per message)", job->nrcpt,
                   PB_LIMIT_MSG_TO);
        goto refuse;
    }
    for (size_t i = 0; i < job->nrcpt; i++) {
        if (envelope_check(job->rcpt[i], false, PB_STAGE_RCPT, &e) < 0)
            goto refuse;
    }
    if (session_setup(s, resolve, &e) < 0)
        goto refuse;
    if (curl_multi_add_handle(multi, s->easy) != CURLM_OK) {
        pb_err_set(&e, PB_STAGE_CONFIG, PB_E_INTERNAL,
                   "libcurl would not take the transfer");
        goto refuse;
    }
    s->wait = WAIT_NOTHING;
    return 0;

refuse:
    job->err = e;
    job->stage = e.stage;
    job->outcome = SMTP_FAILED;
    note(s, "not sent: %s", e.msg);
    session_release(s);
    return -1;
}

int
smtp_send(const struct smtp_relay *relay, struct smtp_job *jobs, size_t njobs,
          unsigned parallel, struct pb_err *err)
{
    struct curl_slist *resolve = NULL;
    struct session *slots;
    struct conn_table conns;
    size_t next = 0, active = 0;
    CURLM *multi;

    if (relay_check(relay, err) < 0)
        return -1;
    if (parallel == 0)
        parallel = 1;
    if (parallel > SMTP_MAX_PARALLEL)
        parallel = SMTP_MAX_PARALLEL;
    if (relay->address != NULL) {
        char entry[600];
        bool is_v6 = strchr(relay->address, ':') != NULL;

        snprintf(entry, sizeof(entry), "%s:%u:%s%s%s", relay->host, relay->port,
                 is_v6 ? "[" : "", relay->address, is_v6 ? "]" : "");
        resolve = curl_slist_append(NULL, entry);
        if (resolve == NULL)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                              "out of memory");
    }
    multi = curl_multi_init();
    if (multi == NULL) {
        curl_slist_free_all(resolve);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                          "libcurl could not make a multi handle");
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)parallel);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)parallel);
    slots = pb_xcalloc(parallel, sizeof(*slots));
    /* each job opens at most one connection: numbers stay below njobs */
    conns.n = njobs + 1;
    conns.fds = pb_xcalloc(conns.n, sizeof(*conns.fds));
    for (size_t i = 0; i < conns.n; i++)
        conns.fds[i] = CURL_SOCKET_BAD;

    for (;;) {
        int running = 0, left = 0;
        bool freed;
        CURLMsg *m;
        int64_t now, wait = 1000;

        /* SIGTERM: start no new message; the ones under way end as they
           would (their deadlines hold), and closing the connections
           says QUIT */
        if (pb_signal_stopping() && next < njobs) {
            for (; next < njobs; next++)
                job_not_sent(&jobs[next]);
        }
        /* Keep parallel transfers going: a finished one frees its
           connection for the next job, which then reuses it. */
        for (size_t i = 0; i < parallel && next < njobs; i++) {
            if (slots[i].job != NULL)
                continue;
            while (next < njobs && job_start(&slots[i], multi, &jobs[next],
                                             relay, resolve, &conns) < 0)
                next++;
            if (next < njobs) {
                next++;
                active++;
            }
        }
        if (active == 0)
            break;

        curl_multi_perform(multi, &running);
        freed = false;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            for (size_t i = 0; i < parallel; i++) {
                struct session *s = &slots[i];

                if (s->job == NULL || s->easy != m->easy_handle)
                    continue;
                curl_multi_remove_handle(multi, s->easy);
                finish(s, m->data.result, s->is_timed_out && !s->is_aborted);
                session_release(s);
                active--;
                freed = true;
                break;
            }
        }

        now = now_ms();
        for (size_t i = 0; i < parallel; i++) {
            struct session *s = &slots[i];
            bool is_late;

            if (s->job == NULL)
                continue;
            if (s->wait == WAIT_NOTHING && s->easy != NULL) {
                /* started by libcurl but no event seen yet: start the
                   connect clock now */
                wait_for(s, WAIT_CONNECT);
            }
            is_late = s->deadline_ms != 0 && now >= s->deadline_ms;
            if (is_late || s->is_aborted) {
                session_kill(s, multi);
                finish(s, CURLE_ABORTED_BY_CALLBACK, is_late && !s->is_aborted);
                session_release(s);
                active--;
                continue;
            }
            if (s->deadline_ms != 0 && s->deadline_ms - now < wait)
                wait = s->deadline_ms - now;
        }
        /* a freed slot takes the next job at once, on the idle
           connection its last job left */
        if (freed && next < njobs)
            continue;
        if (active > 0 && running > 0)
            curl_multi_poll(multi, NULL, 0, (int)(wait > 0 ? wait : 1), NULL);
    }

    free(slots);
    free(conns.fds);
    curl_multi_cleanup(multi);
    curl_slist_free_all(resolve);
    return 0;
}
