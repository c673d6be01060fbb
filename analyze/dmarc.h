/* SPDX-License-Identifier: MIT */
/* Placeholder: filled by the engineer who writes analyze/dmarc.c. */
#ifndef PB_ANALYZE_DMARC_H
#define PB_ANALYZE_DMARC_H

#endif
