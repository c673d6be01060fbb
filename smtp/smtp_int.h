/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the files of smtp/ (and reached by the tests): the
 * signature core of dkim_sign.c.
 */
#ifndef PB_SMTP_SMTP_INT_H
#define PB_SMTP_SMTP_INT_H

#include "smtp.h"

#include <stdbool.h>
#include <stddef.h>

#include "pb_buf.h"
#include "pb_dkim_canon.h"

/* The message splitter and the canonicalizations are in pb_base
 * (pb_dkim_canon.h): the verifier in analyze/ uses them too. */

/*
 * The core of dkim_sign_message(): append one whole DKIM-Signature field
 * to out.  prefix (prefix_len) is the field as it will be written up to
 * the bh= tag ("DKIM-Signature: v=1; a=...; h=...;\r\n "), hlist
 * (hlist_len) the h= value in it, which selects the fields signed (names
 * separated by ':' with any FWS, RFC 6376 §3.5).  The function writes
 * "bh=BASE64;\r\n b=" and the folded signature and a final CRLF.  The key
 * decides the algorithm; the caller has written the matching a=.  Errors:
 * PB_E_SYNTAX (h= list), PB_E_LIMIT, PB_E_INTERNAL (OpenSSL).
 */
int dkim_sign_field(const struct dkim_sign_key *key,
                    const struct pb_dkim_canon_msg *m, enum dkim_canon hc,
                    enum dkim_canon bc, const char *prefix, size_t prefix_len,
                    const char *hlist, size_t hlist_len, struct pb_buf *out,
                    struct pb_err *err);

#endif
