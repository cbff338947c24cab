/*
 * fuzz_csv.c - libFuzzer target for the CSV reader and the data preparation behind
 * --data: any byte string is written to a file, read as a table and, when that works,
 * prepared with the default options. Must never crash, leak or read out of bounds.
 */
#include "../cli/prep.h"
#include "../cli/table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/descent-fuzz-csv-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    cli_table *t = NULL;
    ds_error err;
    if (cli_table_read_limited(&t, path, 1 << 20, &err) == DS_OK) {
        cli_data *d = NULL;
        if (cli_prep(t, NULL, &d, &err) == DS_OK) {
            float *x = NULL, *y = NULL;
            int n = 0;
            if (cli_prep_apply(t, d, &x, &y, &n, &err) == DS_OK) {
                free(x);
                free(y);
            }
            cli_data_free(d);
        }
        cli_table_free(t);
    }
    unlink(path);
    return 0;
}
