/* SPDX-License-Identifier: MIT */
/*
 * Where and how a probe run reads a mailbox back: a seed's IMAP access
 * (its seeds-file attributes over the IMAP provider profile of its
 * provider, profiles/imap/NAME.json, docs/profiles.md) or the bounce
 * mailbox, with its password read and the authserv-ids whose
 * Authentication-Results the receiver writes.
 */
#ifndef PB_PROBE_MAILBOX_H
#define PB_PROBE_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "imap.h"
#include "pb_err.h"
#include "secret.h"
#include "seeds.h"

/* Junk names and authserv-ids an IMAP profile may list. */
#define MAILBOX_LIMIT_NAMES 16

struct imap_profile {
    char *name; /* "gmail" */
    char *path; /* the file read */
    char *description;
    char *url; /* imaps://HOST[:PORT] or imap://HOST[:PORT] */
    enum imap_auth auth;
    char *junk[MAILBOX_LIMIT_NAMES];
    size_t njunk;
    char *authserv_ids[MAILBOX_LIMIT_NAMES];
    size_t nauthserv_ids;
    char *domains[MAILBOX_LIMIT_NAMES];
    size_t ndomains;
};

/*
 * Load the IMAP profile NAME ([a-z0-9][a-z0-9_.-]*) from the imap/
 * directory of each profile directory (docs/profiles.md search path).
 * Returns 0 with *out, 1 when no directory has it (*out NULL), -1 with
 * err (PB_STAGE_CONFIG) for a file that does not check.
 */
int imap_profile_load(const char *name, struct imap_profile **out,
                      struct pb_err *err);
void imap_profile_free(struct imap_profile *p);

/*
 * The IMAP profiles one run has loaded, by name, so that a seeds file of
 * thousands of seeds reads each profile file once (a name found nowhere
 * is remembered too).
 */
struct imap_profiles;
struct imap_profiles *imap_profiles_new(void);
void imap_profiles_free(struct imap_profiles *c);

/* imap_profile_load() through the cache: *out belongs to c. */
int imap_profiles_get(struct imap_profiles *c, const char *name,
                      const struct imap_profile **out, struct pb_err *err);
/* The profile whose "domains" lists the domain of address, among the
 * shipped names; 1 when none.  *out belongs to c. */
int imap_profile_for_address(struct imap_profiles *c, const char *address,
                             const struct imap_profile **out,
                             struct pb_err *err);

struct mailbox {
    char *label;    /* the seed's address, or "bounce mailbox" */
    char *address;  /* the mailbox's own address */
    char *provider; /* provider word or NULL */
    char *host;
    unsigned port;
    char *connect_address; /* or NULL */
    char *user;
    char *ca_file; /* or NULL */
    bool insecure;
    enum imap_tls tls;
    enum imap_auth auth;
    struct secret *secret; /* the password, read when resolved */
    char *inbox;           /* "INBOX" unless the seed says */
    char *junk; /* the seed's junk=, or NULL: SPECIAL-USE, then names */
    char *junk_names[MAILBOX_LIMIT_NAMES];
    size_t njunk_names;
    char *authserv_ids[MAILBOX_LIMIT_NAMES]; /* authres_id_match patterns */
    size_t nauthserv_ids;
};

/*
 * The mailbox of seed s when it can be read: 0 with out filled, 1 when
 * the seed is send only (no imap= and no password source), -1 with err:
 * the IMAP profile of its provider missing or broken, the password file
 * unreadable or group/world-readable, the variable unset.  err->msg
 * starts with "SOURCE:LINE: " of the seed.  label: NULL for the seed's
 * address.
 */
int mailbox_from_seed(const struct seed *s, const char *source,
                      const char *label, struct imap_profiles *profiles,
                      struct mailbox *out, struct pb_err *err);

/* The parameters imap_open() takes (pointing into m). */
void mailbox_imap_params(const struct mailbox *m, struct imap_params *p);

/* Two mailboxes that are the same account on the same server. */
bool mailbox_same_account(const struct mailbox *a, const struct mailbox *b);

void mailbox_release(struct mailbox *m);

#endif
