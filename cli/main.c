/*
 * main.c - the descent command: dispatch to subcommands, usage, exit codes.
 *
 * Exit status: 0 success; 2 anything the user can fix (usage, an option's value, a data
 * or experiment file); 3 training diverged (NaN or infinite loss); 1 anything else.
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "descent %s - train dense networks the way Keras does, and see how they learn\n"
            "\n"
            "usage: descent COMMAND [FILE.ini] [options]\n"
            "\n"
            "commands:\n"
            "  train      train one model and print its per-epoch log and test metrics\n"
            "  sweep      train a grid of configurations, each over repeated seeds, and\n"
            "             write history.csv, runs.csv, summary.csv and report.html\n"
            "  predict    predict new rows with a saved model\n"
            "  evaluate   loss and metrics of a saved model on labelled rows\n"
            "  inspect    a saved model's layers, training and metadata\n"
            "  features   a layer's outputs for every row of a data file\n"
            "\n"
            "  descent COMMAND --help   the command's options, with their defaults\n"
            "  descent --version\n"
            "\n"
            "example:\n"
            "  descent sweep examples/initializers.ini\n"
            "  descent train --data data/banknotes.csv --layers \"dense(1, sigmoid)\" \\\n"
            "      --optimizer sgd --epochs 10\n",
            ds_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("descent %s\n", ds_version());
        return 0;
    }
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0) return cmd_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "predict") == 0) return cmd_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "evaluate") == 0) return cmd_evaluate(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0) return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "features") == 0) return cmd_features(argc - 1, argv + 1);
    fprintf(stderr, "descent: unknown command '%s' (commands: train, sweep, predict, evaluate, inspect, features; see descent --help)\n",
            cmd);
    return 2;
}
