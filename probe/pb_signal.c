/* SPDX-License-Identifier: MIT */
#include "pb_signal.h"

#include <string.h>

static volatile sig_atomic_t stop_signal;

static void
on_stop(int sig)
{
    stop_signal = sig;
}

void
pb_signal_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

bool
pb_signal_stopping(void)
{
    return stop_signal != 0;
}

int
pb_signal_which(void)
{
    return (int)stop_signal;
}
