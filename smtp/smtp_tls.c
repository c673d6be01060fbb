/* SPDX-License-Identifier: MIT */
#include "smtp_tls.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "pb_buf.h"
#include "pb_lazy.h"

/* GnuTLS, loaded on first use (pb_lazy.h): libcurl brought it already */
#define GNUTLS_FUNCS(X)                    \
    X(gnutls_certificate_get_peers)        \
    X(gnutls_free)                         \
    X(gnutls_protocol_get_name)            \
    X(gnutls_protocol_get_version)         \
    X(gnutls_session_get_desc)             \
    X(gnutls_x509_crt_deinit)              \
    X(gnutls_x509_crt_get_dn3)             \
    X(gnutls_x509_crt_get_expiration_time) \
    X(gnutls_x509_crt_get_issuer_dn3)      \
    X(gnutls_x509_crt_import)              \
    X(gnutls_x509_crt_init)
PB_LAZY_TABLE(gtls, PB_SONAME_GNUTLS, GNUTLS_FUNCS)
#define gnutls_certificate_get_peers(...) \
    (gtls()->gnutls_certificate_get_peers(__VA_ARGS__))
/* gnutls_free is a variable holding the function: the table has its
 * address.  As gnutls.h's own macro, it clears the pointer it frees. */
#undef gnutls_free
#define gnutls_free(a) ((*gtls()->gnutls_free)((void *)(a)), (a) = NULL)
#define gnutls_protocol_get_name(...) \
    (gtls()->gnutls_protocol_get_name(__VA_ARGS__))
#define gnutls_protocol_get_version(...) \
    (gtls()->gnutls_protocol_get_version(__VA_ARGS__))
#define gnutls_session_get_desc(...) \
    (gtls()->gnutls_session_get_desc(__VA_ARGS__))
#define gnutls_x509_crt_deinit(...) \
    (gtls()->gnutls_x509_crt_deinit(__VA_ARGS__))
#define gnutls_x509_crt_get_dn3(...) \
    (gtls()->gnutls_x509_crt_get_dn3(__VA_ARGS__))
#define gnutls_x509_crt_get_expiration_time(...) \
    (gtls()->gnutls_x509_crt_get_expiration_time(__VA_ARGS__))
#define gnutls_x509_crt_get_issuer_dn3(...) \
    (gtls()->gnutls_x509_crt_get_issuer_dn3(__VA_ARGS__))
#define gnutls_x509_crt_import(...) \
    (gtls()->gnutls_x509_crt_import(__VA_ARGS__))
#define gnutls_x509_crt_init(...) (gtls()->gnutls_x509_crt_init(__VA_ARGS__))

static void
put_escaped(char *dst, size_t size, const void *p, size_t len)
{
    if (pb_escape_to(dst, size, p, len) < 0 && size > 4)
        memcpy(dst + size - 4, "...", 4);
}

static void
put_time(char *dst, size_t size, time_t t)
{
    struct tm tm;

    if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL) {
        snprintf(dst, size, "unknown");
        return;
    }
    strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
cert_facts(gnutls_session_t gs, struct smtp_tls_info *out)
{
    const gnutls_datum_t *list;
    unsigned int n = 0;
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn;

    list = gnutls_certificate_get_peers(gs, &n);
    if (list == NULL || n == 0) {
        snprintf(out->subject, sizeof(out->subject), "(no certificate)");
        return;
    }
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &list[0], GNUTLS_X509_FMT_DER) == 0) {
        if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
            put_escaped(out->subject, sizeof(out->subject), dn.data, dn.size);
            gnutls_free(dn.data);
        }
        if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) == 0) {
            put_escaped(out->issuer, sizeof(out->issuer), dn.data, dn.size);
            gnutls_free(dn.data);
        }
        put_time(out->not_after, sizeof(out->not_after),
                 gnutls_x509_crt_get_expiration_time(crt));
    }
    gnutls_x509_crt_deinit(crt);
}

void
smtp_tls_load(void)
{
    (void)gtls();
}

void
smtp_tls_facts(const struct curl_tlssessioninfo *info, bool is_verifying,
               struct smtp_tls_info *out)
{
    gnutls_session_t gs;
    const char *name;
    char *desc;

    out->active = true;
    if (info->backend != CURLSSLBACKEND_GNUTLS) {
        snprintf(out->version, sizeof(out->version), "unknown");
        snprintf(out->verify_result, sizeof(out->verify_result), "%s",
                 is_verifying ? "ok" : "not verified (insecure)");
        out->verified = is_verifying;
        return;
    }
    gs = info->internals;
    name = gnutls_protocol_get_name(gnutls_protocol_get_version(gs));
    snprintf(out->version, sizeof(out->version), "%s", name ? name : "unknown");
    desc = gnutls_session_get_desc(gs);
    if (desc != NULL) {
        /* "(TLS1.3)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)":
           everything after the version */
        const char *p = strstr(desc, ")-");

        snprintf(out->cipher, sizeof(out->cipher), "%s", p ? p + 2 : desc);
        gnutls_free(desc);
    }
    cert_facts(gs, out);
    out->verified = is_verifying;
    snprintf(out->verify_result, sizeof(out->verify_result), "%s",
             is_verifying ? "ok"
                          : "not verified (the profile sets \"insecure\")");
}
