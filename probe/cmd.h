/* SPDX-License-Identifier: MIT */
/* Entry points of the commands; each returns the process exit code. */
#ifndef PB_PROBE_CMD_H
#define PB_PROBE_CMD_H

int cmd_spf_main(int argc, char **argv);
int cmd_check_main(int argc, char **argv);
int cmd_sign_main(int argc, char **argv);
int cmd_send_main(int argc, char **argv);
int cmd_explain_main(int argc, char **argv);
int cmd_health_main(int argc, char **argv);
int cmd_history_main(int argc, char **argv);

/* The history database when no option or config names one (malloc'd):
   $PROBE_STATE_DIR/history.db, $XDG_STATE_HOME/probe/history.db,
   /var/lib/probe/history.db as root, ~/.local/state/probe/history.db. */
char *health_default_history(void);

#endif
