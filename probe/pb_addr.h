/* SPDX-License-Identifier: MIT */
/*
 * Envelope addresses: the RFC 5321 Mailbox the probe writes into MAIL FROM
 * and RCPT TO, checked by us before any of it reaches libcurl (which sends
 * CR and LF in an address verbatim in older versions).
 */
#ifndef PB_PROBE_PB_ADDR_H
#define PB_PROBE_PB_ADDR_H

#include <stddef.h>

#include "pb_err.h"

/*
 * Check that (addr, len) is an RFC 5321 §4.1.2 Mailbox, as sent between
 * the angle brackets of MAIL FROM and RCPT TO:
 *
 *   - local part: a Dot-string (atext atoms joined by single dots) or a
 *     Quoted-string (printable ASCII, `\` quoting one printable
 *     character), at most PB_LIMIT_LOCALPART (64) octets with its quotes;
 *   - '@';
 *   - domain: LDH labels of 1..63 octets, not starting or ending with '-',
 *     at least two of them, the last not all digits, at most
 *     PB_LIMIT_DNS_NAME (253) octets; or an address literal `[192.0.2.1]`
 *     or `[IPv6:2001:db8::1]`;
 *   - the whole at most PB_LIMIT_MAILBOX (254) octets.
 *
 * No byte below 0x20, DEL, NUL, CR or LF anywhere, quoted or not.
 * Non-ASCII bytes (SMTPUTF8, RFC 6531) are refused for now.  The empty
 * reverse path `<>` is not a Mailbox: callers handle it themselves.
 *
 * addr is untrusted and need not be NUL-terminated.  Returns 0, or -1 with
 * err: PB_STAGE_CONFIG, PB_E_SYNTAX (PB_E_LIMIT for a length over a
 * limit), a sentence saying what is wrong and at which 1-based position
 * ("the local part has a space at position 5"), and the escaped address as
 * evidence.
 */
int pb_addr_check(const char *addr, size_t len, struct pb_err *err);

/*
 * The domain of a NUL-terminated address: a pointer into addr just after
 * its last '@', or NULL when there is none.  For an address literal it is
 * the literal with its brackets ("[192.0.2.1]").
 */
const char *pb_addr_domain(const char *addr);

#endif
