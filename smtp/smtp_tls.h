/* SPDX-License-Identifier: MIT */
/*
 * The TLS facts of a libcurl session (smtp_tls.c), kept apart from
 * smtp_session.c because they speak the TLS library of libcurl's build
 * (GnuTLS on Debian's libcurl4-gnutls-dev).
 */
#ifndef PB_SMTP_SMTP_TLS_H
#define PB_SMTP_SMTP_TLS_H

#include <stdbool.h>

#include <curl/curl.h>

#include "smtp.h"

/* Load GnuTLS now (pb_lazy.h): a missing symbol then stops the run before
 * anything is sent, not in the middle of a session. */
void smtp_tls_load(void);

/*
 * Fill out from the session behind info (CURLINFO_TLS_SSL_PTR, taken after
 * the handshake): version, cipher, the server certificate's subject,
 * issuer and expiry (escaped: they are the server's words), and whether
 * libcurl verified it (is_verifying: peer and host verification were on,
 * and the handshake completed, so libcurl accepted the chain and name).
 */
void smtp_tls_facts(const struct curl_tlssessioninfo *info, bool is_verifying,
                    struct smtp_tls_info *out);

#endif
