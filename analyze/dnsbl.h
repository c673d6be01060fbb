/* SPDX-License-Identifier: MIT */
/* Placeholder: filled by the engineer who writes analyze/dnsbl.c. */
#ifndef PB_ANALYZE_DNSBL_H
#define PB_ANALYZE_DNSBL_H

#endif
