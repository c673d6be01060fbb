/* SPDX-License-Identifier: MIT */
/* Placeholder: filled by the engineer who writes analyze/mx.c. */
#ifndef PB_ANALYZE_MX_H
#define PB_ANALYZE_MX_H

#endif
