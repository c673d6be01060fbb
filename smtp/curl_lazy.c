/* SPDX-License-Identifier: MIT */
/*
 * libcurl, loaded on first use (pb_lazy.h says why).  probe is not linked
 * with libcurl: these functions take the names of the ones probe calls, so
 * the callers and curl's compile-time option checks stay as they are, and
 * forward to the library.  curl_easy_setopt() and curl_multi_setopt() pass
 * their one variadic argument on by its type, which the option number
 * gives (CURLOPTTYPE_*, the rule libcurl itself reads it by).
 */
#define CURL_DISABLE_TYPECHECK /* the definitions below, not the checks */
#include <curl/curl.h>
#include <stdarg.h>

#include "pb_lazy.h"

#define CURL_FUNCS(X)           \
    X(curl_global_init)         \
    X(curl_easy_init)           \
    X(curl_easy_setopt)         \
    X(curl_easy_perform)        \
    X(curl_easy_cleanup)        \
    X(curl_easy_getinfo)        \
    X(curl_easy_strerror)       \
    X(curl_easy_escape)         \
    X(curl_free)                \
    X(curl_slist_append)        \
    X(curl_slist_free_all)      \
    X(curl_version_info)        \
    X(curl_multi_init)          \
    X(curl_multi_add_handle)    \
    X(curl_multi_remove_handle) \
    X(curl_multi_perform)       \
    X(curl_multi_poll)          \
    X(curl_multi_info_read)     \
    X(curl_multi_cleanup)       \
    X(curl_multi_setopt)

PB_LAZY_TABLE(lib, PB_SONAME_CURL, CURL_FUNCS)

CURLcode
curl_global_init(long flags)
{
    return lib()->curl_global_init(flags);
}

CURL *
curl_easy_init(void)
{
    return lib()->curl_easy_init();
}

/* The call with the one variadic argument of opt read by its type. */
#define PASS_OPT(call, h, opt, ap)                                          \
    ((opt) < CURLOPTTYPE_OBJECTPOINT     ? call(h, opt, va_arg(ap, long))   \
     : (opt) < CURLOPTTYPE_FUNCTIONPOINT ? call(h, opt, va_arg(ap, void *)) \
     : (opt) < CURLOPTTYPE_OFF_T ? call(h, opt, va_arg(ap, void (*)(void))) \
     : (opt) < CURLOPTTYPE_BLOB  ? call(h, opt, va_arg(ap, curl_off_t))     \
                                 : call(h, opt, va_arg(ap, void *)))

CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
    CURLcode rc;
    va_list ap;

    va_start(ap, opt);
    rc = PASS_OPT(lib()->curl_easy_setopt, h, opt, ap);
    va_end(ap);
    return rc;
}

CURLcode
curl_easy_perform(CURL *h)
{
    return lib()->curl_easy_perform(h);
}

void
curl_easy_cleanup(CURL *h)
{
    lib()->curl_easy_cleanup(h);
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    CURLcode rc;
    va_list ap;

    va_start(ap, info);
    rc = lib()->curl_easy_getinfo(h, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

const char *
curl_easy_strerror(CURLcode code)
{
    return lib()->curl_easy_strerror(code);
}

char *
curl_easy_escape(CURL *h, const char *s, int len)
{
    return lib()->curl_easy_escape(h, s, len);
}

void
curl_free(void *p)
{
    lib()->curl_free(p);
}

struct curl_slist *
curl_slist_append(struct curl_slist *list, const char *s)
{
    return lib()->curl_slist_append(list, s);
}

void
curl_slist_free_all(struct curl_slist *list)
{
    lib()->curl_slist_free_all(list);
}

curl_version_info_data *
curl_version_info(CURLversion v)
{
    return lib()->curl_version_info(v);
}

CURLM *
curl_multi_init(void)
{
    return lib()->curl_multi_init();
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
    return lib()->curl_multi_add_handle(m, h);
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
    return lib()->curl_multi_remove_handle(m, h);
}

CURLMcode
curl_multi_perform(CURLM *m, int *running)
{
    return lib()->curl_multi_perform(m, running);
}

CURLMcode
curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n,
                int timeout_ms, int *ret)
{
    return lib()->curl_multi_poll(m, extra, n, timeout_ms, ret);
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
    return lib()->curl_multi_info_read(m, left);
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
    return lib()->curl_multi_cleanup(m);
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
    CURLMcode rc;
    va_list ap;

    va_start(ap, opt);
    rc = PASS_OPT(lib()->curl_multi_setopt, m, opt, ap);
    va_end(ap);
    return rc;
}
