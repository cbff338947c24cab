/*
 * args.h - the command line and experiment files, turned into settings.
 *
 * Options are the settings' names with dashes: --batch-size 16 or --batch-size=16 sets
 * batch_size. An experiment file (INI, read with inih) has sections [data], [model],
 * [compile], [fit] and [sweep] holding the same names, and a section [vary] whose keys
 * are sweep axes (kernel_initializer = zeros, uniform, normal; a long list may go on over
 * indented lines). Paths in an experiment
 * file are relative to the file's folder. Command-line options override the file.
 */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include "settings.h"

#define CLI_MAX_AXES 8

typedef struct {
    char name[64];
    int n_values;
    char **values;
} cli_axis;

typedef struct {
    cli_settings settings;
    int n_axes;
    cli_axis axes[CLI_MAX_AXES];
    char *experiment_path; /* the INI file, or NULL */
    char *experiment_text; /* its contents */
    char *command;         /* the whole command line, quoted where needed */
    int help, quiet;
    int n_positional;
    char *positional[4];
} cli_args;

/* Parses argv, whose argv[0] is the command word ("sweep"). Options not in `extra` (a NULL-terminated list of
 * command-specific flags without "--", each taking no value) must be settings. Each
 * positional argument ending in .ini is read as an experiment file before the options are
 * applied. Errors name the option or FILE:LINE and return DS_ERR_ARG / DS_ERR_IO. */
ds_status cli_args_parse(cli_args *a, int argc, char **argv, const char *const *extra,
                         int allow_vary, ds_error *err);
void cli_args_free(cli_args *a);
/* Adds an axis from "NAME=v1,v2,..." (commas inside parentheses do not split). */
ds_status cli_axis_add(cli_args *a, const char *text, const char *origin, ds_error *err);
/* Adds an axis NAME with a comma-separated list of values; with `append`, the values
 * extend an axis of that name instead of replacing it. */
ds_status cli_axis_add_values(cli_args *a, const char *name, const char *list,
                              const char *origin, int append, ds_error *err);
/* Prints the options of `command` with their defaults, for --help. */
void cli_print_options(FILE *f, int sweep);

#endif
