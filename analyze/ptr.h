/* SPDX-License-Identifier: MIT */
/* Placeholder: filled by the engineer who writes analyze/ptr.c. */
#ifndef PB_ANALYZE_PTR_H
#define PB_ANALYZE_PTR_H

#endif
