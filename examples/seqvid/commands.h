/*
 * commands.h -- the subcommands of `seqvid` and their help texts.
 */
#ifndef SEQVID_CMD_COMMANDS_H
#define SEQVID_CMD_COMMANDS_H

#include <stdio.h>

int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* The help text of `seqvid` (name NULL) or of a subcommand, from help/<name>.txt. */
const char *command_help(const char *name);
/* Print a subcommand's help to f (stdout for --help, stderr after a usage error). */
void command_usage(FILE *f, const char *name);

#endif
