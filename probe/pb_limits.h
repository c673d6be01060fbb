/* SPDX-License-Identifier: MIT */
/*
 * Every size and count limit the probe enforces on outside input, with the
 * rule that motivates it.  Input over a limit is rejected, never cut.
 */
#ifndef PB_PROBE_PB_LIMITS_H
#define PB_PROBE_PB_LIMITS_H

/* RFC 1035 §2.3.4: 63 octets per label, 255 per name (253 as text). */
#define PB_LIMIT_DNS_LABEL 63
#define PB_LIMIT_DNS_NAME  253

/* RFC 1035 §4.2.2: a DNS message over TCP is at most 65535 octets. */
#define PB_LIMIT_DNS_MSG 65535

/*
 * RFC 1035 §3.3: a <character-string> is a length octet and at most 255
 * octets; §4.1.3: RDLENGTH is 16 bits, so one record's RDATA (a TXT
 * record's strings with their length octets) is at most 65535 octets.
 */
#define PB_LIMIT_DNS_CSTR  255
#define PB_LIMIT_DNS_RDATA 65535

/* Records kept from one answer; a real RRset is far smaller. */
#define PB_LIMIT_DNS_RRS 512

/* CNAME chain length followed by the fixture resolver (BIND uses 16). */
#define PB_LIMIT_CNAME_CHAIN 16

/* Distinct (name, type) answers kept in one run's cache. */
#define PB_LIMIT_DNS_CACHE 100000

/* A DNS fixture file; a recorded run of a large audit stays far below. */
#define PB_LIMIT_FIXTURE_BYTES (64u * 1024 * 1024)

/* RFC 7208 §4.6.4: 10 DNS-querying terms, 10 MX / PTR names, 2 voids. */
#define PB_LIMIT_SPF_DNS_TERMS 10
#define PB_LIMIT_SPF_MX_NAMES  10
#define PB_LIMIT_SPF_PTR_NAMES 10
#define PB_LIMIT_SPF_VOID      2

/*
 * An SPF record is one TXT RRset entry; a DNS message bounds it at 64 KiB.
 * Terms per record: the longest real records have under 50.
 */
#define PB_LIMIT_SPF_RECORD 65535
#define PB_LIMIT_SPF_TERMS  1024

/* RFC 7208 §7.3: an expanded domain is cut from the left to 253 octets;
 * an expanded explanation is bounded by us. */
#define PB_LIMIT_SPF_EXPANSION 8192

/* RFC 5321 §4.5.3.1: local part 64, domain 255, path 256 octets. */
#define PB_LIMIT_LOCALPART 64
#define PB_LIMIT_ADDRESS   256

/* `probe check`: sending IPs and DKIM selectors per domain (command line
 * or batch line), and the longest batch line. */
#define PB_LIMIT_CHECK_IPS       16
#define PB_LIMIT_CHECK_SELECTORS 64
#define PB_LIMIT_BATCH_LINE      4096

/*
 * A message to sign or send (smtp/).  Probe messages are a few KB and
 * relays take 25 MB (Gmail) to 150 MB (Microsoft 365 at most); 64 MiB
 * bounds the memory one message can take (about three times this while
 * it is signed) and stays above what any relay a probe uses accepts.
 */
#define PB_LIMIT_MSG_BYTES (64u * 1024 * 1024)
/* Header fields per message: real mail has under 100 (Postfix rejects
 * mail after 50 Received fields, hopcount_limit). */
#define PB_LIMIT_MSG_FIELDS 1000
/* One header field with its folded lines: Postfix's header_size_limit
 * (102400) cuts longer fields, so no signature over one would survive. */
#define PB_LIMIT_MSG_FIELD 102400
/* A header field name we write or accept in an h= list: RFC 5322 sets
 * none; a longer name would not fit one folded line. */
#define PB_LIMIT_MSG_FIELD_NAME 76
/* RFC 5322 §2.1.1: a line is at most 998 octets without its CRLF. */
#define PB_LIMIT_MSG_LINE 998
/* RFC 5322 §2.1.1 again: a line SHOULD be at most 78 octets; folding aims
 * here. */
#define PB_LIMIT_MSG_FOLD 78
/* A subject or display name given to the message builder, in octets of
 * UTF-8: one line's worth; clients show far less. */
#define PB_LIMIT_MSG_TEXT 998
/* Recipients in one built message's To field: `probe send` writes one per
 * seed; a handful is plenty for hand-made tests. */
#define PB_LIMIT_MSG_TO 100

/* A probe token given to the message builder (it goes into Message-ID and
 * the MIME boundary, RFC 2046 §5.1.1 allows 70 octets there); ours are 32. */
#define PB_LIMIT_PROBE_TOKEN 64

/* Names in a DKIM-Signature h= list we write (RFC 6376 §3.5): the default
 * list with its oversigned names is under 30. */
#define PB_LIMIT_DKIM_SIGN_HEADERS 64
/* Signatures added to one message: one per key (RSA and Ed25519, RFC 8463
 * §4), and room for a few more. */
#define PB_LIMIT_DKIM_SIGNATURES 8
/* A private key file: the PEM of a 16384-bit RSA key is about 12 KB. */
#define PB_LIMIT_KEY_FILE (64u * 1024)

/*
 * SMTP replies (smtp/smtp_reply.c).  RFC 5321 §4.5.3.1.5: a reply line is
 * at most 512 octets with its code and CRLF.  §4.2.1 bounds neither the
 * lines of a multi-line reply nor its size: EHLO replies have under 30
 * lines and a few KB, so 256 lines and 64 KiB stop a hostile server early.
 */
#define PB_LIMIT_REPLY_LINE  512
#define PB_LIMIT_REPLY_LINES 256
#define PB_LIMIT_REPLY_TOTAL (64u * 1024)

/* RFC 4954 §4: an AUTH command line may be 12288 octets; a client line the
 * transcript holds while it is incomplete is at most that. */
#define PB_LIMIT_CLIENT_LINE 12288

/*
 * One transcript (probe/pb_transcript.c): bytes kept, entry records
 * included.  A session writes about 1 KB per message sent, so 4 MiB keeps
 * the whole of a connection reused for thousands of messages.
 */
#define PB_LIMIT_TRANSCRIPT_BYTES (4u * 1024 * 1024)

/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle
 * brackets, so the Mailbox inside is at most 254 (probe/pb_addr.c). */
#define PB_LIMIT_MAILBOX (PB_LIMIT_ADDRESS - 2)

/*
 * A seeds file (probe/seeds.c): one address per line with its mailbox
 * attributes.  Real lists have tens of seeds and lines under 300 octets;
 * these bound what a wrong file (a log, a binary) can make us hold.
 */
#define PB_LIMIT_SEEDS_FILE (1024u * 1024)
#define PB_LIMIT_SEEDS_LINE 4096
#define PB_LIMIT_SEEDS      10000

/*
 * Rejection rules (analyze/reject.c, docs/rules.md).  The text searched:
 * RFC 5321 §4.5.3.1.5 bounds a reply line at 512 octets, and the longest
 * real multi-line refusals and DSN Diagnostic-Codes (Gmail, Microsoft 365)
 * are under 2 KB, so 4 KiB holds every wording that names a check and
 * bounds the work of one classification.  Rule files are hand-written:
 * 1 MiB each, 4096 rules and 64 providers a set, 256 files a directory,
 * 1024 octets a pattern and 32 alternatives (stages, codes, statuses,
 * texts) a condition are far above what they need.
 */
#define PB_LIMIT_REJECT_TEXT      4096
#define PB_LIMIT_REJECT_FILE      (1024u * 1024)
#define PB_LIMIT_REJECT_RULES     4096
#define PB_LIMIT_REJECT_PROVIDERS 64
#define PB_LIMIT_REJECT_FILES     256
#define PB_LIMIT_REJECT_PATTERN   1024
#define PB_LIMIT_REJECT_ALTS      32

/*
 * Bounce messages (analyze/dsn.c).  A DSN lists one group per recipient
 * of one transaction: RFC 5321 §4.5.3.1.8 asks servers to take at least
 * 100 recipients, so 1000 is ten times that.  Real bounces nest MIME
 * three or four levels (a report holding a returned multipart message)
 * and have under 20 parts: 20 levels and 200 parts bound the work.  A
 * header field as PB_LIMIT_MSG_FIELD (Postfix's header_size_limit).  A
 * Diagnostic-Code holds a multi-line reply: PB_LIMIT_REPLY_LINES lines
 * would be 128 KB, the longest real ones are under 2 KB, so 8 KiB of it
 * is kept (the rest is cut and the report marked truncated).  The
 * human-readable text searched for a non-standard bounce's recipients
 * and replies: 1 MiB, far above the few KB real bounces have.
 */
#define PB_LIMIT_DSN_RECIPIENTS 1000
#define PB_LIMIT_DSN_MIME_DEPTH 20
#define PB_LIMIT_DSN_PARTS      200
#define PB_LIMIT_DSN_FIELD      PB_LIMIT_MSG_FIELD
#define PB_LIMIT_DSN_DIAGNOSTIC 8192
#define PB_LIMIT_DSN_TEXT       (1024u * 1024)
/* The bounce's own header and the returned message's, each searched for a
 * few dozen fields: 1 MiB, ten header fields at PB_LIMIT_MSG_FIELD. */
#define PB_LIMIT_DSN_HEADER (1024u * 1024)

/*
 * Authentication-Results (analyze/authres.c).  One field value as
 * PB_LIMIT_MSG_FIELD (Postfix's header_size_limit cuts longer fields, so
 * no receiver delivers one).  Real fields hold under 10 results (Gmail 3,
 * Fastmail and Microsoft 365 up to 8), a result under 8 properties
 * (OpenDKIM writes 5) and a comment or two: 64, 32 and 32 stop a hostile
 * field early.  The skipped pieces of one field kept as evidence (the
 * rest only counted).
 */
#define PB_LIMIT_AUTHRES_FIELD    PB_LIMIT_MSG_FIELD
#define PB_LIMIT_AUTHRES_RESULTS  64
#define PB_LIMIT_AUTHRES_PROPS    32
#define PB_LIMIT_AUTHRES_COMMENTS 32
#define PB_LIMIT_AUTHRES_SKIPS    16

#endif
