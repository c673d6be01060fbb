/* SPDX-License-Identifier: MIT */
/* Entry points of the commands; each returns the process exit code. */
#ifndef PB_PROBE_CMD_H
#define PB_PROBE_CMD_H

int cmd_spf_main(int argc, char **argv);
int cmd_check_main(int argc, char **argv);
int cmd_sign_main(int argc, char **argv);
int cmd_send_main(int argc, char **argv);
int cmd_explain_main(int argc, char **argv);

#endif
