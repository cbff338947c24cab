/*
 * idx.h - data in the IDX format of MNIST and Fashion-MNIST (gzip-compressed or plain):
 * an images file (magic 0x00000803: unsigned bytes, N x rows x cols) and the labels file
 * beside it (magic 0x00000801: N unsigned bytes), found by replacing "images-idx3" with
 * "labels-idx1" in the file name. Pixels become features in [0, 1] (divided by 255);
 * labels are the classes 0..9 (or whatever the file holds, up to 255).
 */
#ifndef CLI_IDX_H
#define CLI_IDX_H

#include "prep.h"

/* 1 when path names an IDX images file ("...images-idx3-ubyte" with or without ".gz"). */
int cli_is_idx(const char *path);

/* Reads images and labels into a cli_data whose training rows are all the file's rows
 * (n_test 0), with `mode` choosing the target encoding (auto: one-hot) and n_classes
 * taken from the largest label + 1 (at least `min_classes`). DS_ERR_IO for a missing or
 * unreadable file, DS_ERR_FORMAT (naming the file) for a bad magic number, absurd sizes,
 * a truncated file or images and labels that do not match. */
ds_status cli_idx_load(const char *images_path, cli_target_mode mode, int min_classes,
                       cli_data **out, ds_error *err);

#endif
