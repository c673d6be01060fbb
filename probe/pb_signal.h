/* SPDX-License-Identifier: MIT */
/*
 * A stop asked for by SIGTERM or SIGINT.  The handler only sets the flag;
 * long loops (the SMTP engine, the mailbox watchers, `probe health`) read
 * it and end the way they would at a deadline: no new message started,
 * QUIT and LOGOUT said, what was done reported.  The one mutable global
 * besides the log level, because a signal handler can reach nothing else.
 */
#ifndef PB_PROBE_PB_SIGNAL_H
#define PB_PROBE_PB_SIGNAL_H

#include <signal.h>
#include <stdbool.h>

/* Install the handler for SIGTERM and SIGINT (no SA_RESTART). */
void pb_signal_install(void);
/* Whether a stop was asked for, and by which signal (0: none). */
bool pb_signal_stopping(void);
int pb_signal_which(void);

#endif
