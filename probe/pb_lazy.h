/* SPDX-License-Identifier: MIT */
/*
 * Libraries only some commands need, loaded when first used: libcurl (SMTP,
 * webhooks, OAuth2), GnuTLS (the TLS facts of an SMTP session) and libetpan
 * (IMAP, RFC 2047 words).  libcurl and libetpan bring some 25 libraries
 * (GnuTLS, Kerberos, LDAP, SSH, SASL, Berkeley DB ...) whose loading and
 * relocation every start of probe used to pay: `probe --version` took about
 * 7 ms, 2.5 ms without them (docs/PERFORMANCE.md, "Start-up").
 *
 * A file that calls a library declares its functions once:
 *
 *     #define ETPAN_FUNCS(X) X(mailimap_new) X(mailimap_free)
 *     PB_LAZY_TABLE(etpan, PB_SONAME_ETPAN, ETPAN_FUNCS)
 *     #define mailimap_new(...) (etpan()->mailimap_new(__VA_ARGS__))
 *
 * and the first call loads the library (thread-safe: pthread_once).  The
 * macros are function-like so that struct members of the same name
 * (libetpan's stream drivers) stay as they are.  A library that cannot be
 * loaded ends the process with exit status 3 and one line saying which:
 * an installation without it can still run every command that does not
 * need it.
 */
#ifndef PB_PROBE_PB_LAZY_H
#define PB_PROBE_PB_LAZY_H

#include <pthread.h>

/* dlopen(soname), or exit 3 with the reason on stderr. */
void *pb_lazy_open(const char *soname);
/* dlsym(lib, name), or exit 3 with the reason on stderr. */
void *pb_lazy_sym(void *lib, const char *soname, const char *name);

#define PB_LAZY_MEMBER(f)  __typeof__(f) *f;
#define PB_LAZY_RESOLVE(f) t->f = (__typeof__(t->f))pb_lazy_sym(h, so, #f);

/* The table NAME_tab, and NAME(): the table, loaded on first use. */
#define PB_LAZY_TABLE(name, soname, FUNCS)                 \
    static struct {                                        \
        FUNCS(PB_LAZY_MEMBER)                              \
    } name##_tab;                                          \
    static pthread_once_t name##_once = PTHREAD_ONCE_INIT; \
    static void name##_load(void)                          \
    {                                                      \
        const char *so = soname;                           \
        void *h = pb_lazy_open(so);                        \
        __typeof__(&name##_tab) t = &name##_tab;           \
        FUNCS(PB_LAZY_RESOLVE)                             \
    }                                                      \
    static __typeof__(&name##_tab) name(void)              \
    {                                                      \
        pthread_once(&name##_once, name##_load);           \
        return &name##_tab;                                \
    }

#endif
