/*
 * commands.h - the subcommands of descent; each returns the process exit status.
 */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

#include "descent.h"

int cmd_train(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_features(int argc, char **argv);

#endif
