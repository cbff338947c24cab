/*
 * fuzz_ini.c - libFuzzer target for experiment files: any byte string is written to a
 * file FILE.ini and parsed as `descent sweep FILE.ini` would (inih, then every setting's
 * check, the [vary] axes and the grid). Must never crash, leak or read out of bounds.
 */
#include "../cli/args.h"
#include "../cli/sweep.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/descent-fuzz-XXXXXX.ini";
    int fd = mkstemps(path, 4);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    char *argv[] = {"sweep", path, NULL};
    cli_args a;
    ds_error err;
    if (cli_args_parse(&a, 2, argv, NULL, 1, &err) == DS_OK) {
        cli_grid g;
        if (cli_grid_make(&a, &g, &err) == DS_OK) cli_grid_free(&g);
    }
    cli_args_free(&a);
    unlink(path);
    return 0;
}
