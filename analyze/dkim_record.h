/* SPDX-License-Identifier: MIT */
/* Placeholder: filled by the engineer who writes analyze/dkim_record.c. */
#ifndef PB_ANALYZE_DKIM_RECORD_H
#define PB_ANALYZE_DKIM_RECORD_H

#endif
