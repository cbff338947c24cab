/*
 * dense.c - the dense layer's kernels: out = inp @ weight + bias and its gradients.
 * Shapes: B = batch rows, I = input features, O = output features;
 * inp (B,I), weight (I,O) row-major as Keras stores a kernel, bias (O), out (B,O).
 * These are the plain reference kernels; every sum runs in a fixed order, so results
 * depend only on the inputs. Parameter gradients are reduced per shard of
 * DS_SHARD_ROWS rows and the shards added in order (see descent.h).
 */
#include "internal.h"

#include <string.h>

#if defined(__GNUC__)
#define UNROLLED static inline __attribute__((always_inline))
#else
#define UNROLLED static inline
#endif

/* out[b] = bias + inp[b] . weight for one output unit, the terms added in input order */
UNROLLED void forward_one_unit(float *out, const float *inp, const float *weight,
                               const float *bias, int B, int I)
{
    if (I <= 8) { /* the weights and the bias in registers */
        float w[8], b0 = bias ? bias[0] : 0.0f;
#pragma GCC unroll 8
        for (int i = 0; i < I; i++) w[i] = weight[i];
        for (int b = 0; b < B; b++) {
            const float *x = inp + (size_t)b * I;
            float acc = b0;
#pragma GCC unroll 8
            for (int i = 0; i < I; i++) acc += x[i] * w[i];
            out[b] = acc;
        }
        return;
    }
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * I;
        float acc = bias ? bias[0] : 0.0f;
        for (int i = 0; i < I; i++) acc += x[i] * weight[i];
        out[b] = acc;
    }
}

/* one output unit's weight and bias gradients: per shard of rows, the sums over its rows
 * in row order, then added to dweight and dbias in shard order */
UNROLLED void backward_one_unit(float *dweight, float *dbias, const float *dout,
                                const float *inp, float *scratch, int B, int I)
{
    float local[8];
    for (int b0 = 0; b0 < B; b0 += DS_SHARD_ROWS) {
        int b1 = b0 + DS_SHARD_ROWS < B ? b0 + DS_SHARD_ROWS : B;
        float *sw = I <= 8 ? local : scratch, sb = 0.0f; /* few inputs: in registers */
#pragma GCC unroll 8
        for (int i = 0; i < I; i++) sw[i] = 0.0f;
        for (int b = b0; b < b1; b++) {
            const float g = dout[b];
            const float *x = inp + (size_t)b * I;
#pragma GCC unroll 8
            for (int i = 0; i < I; i++) sw[i] += x[i] * g;
            sb += g;
        }
#pragma GCC unroll 8
        for (int i = 0; i < I; i++) dweight[i] += sw[i];
        if (dbias) dbias[0] += sb;
    }
}

void ds_dense_forward(float *out, const float *inp, const float *weight, const float *bias,
                      int B, int I, int O)
{
    /* out (B,O) = bias (O) + inp (B,I) @ weight (I,O); the i loop outside the o loop
     * keeps the inner loop contiguous in weight and out. */
    if (O == 1) {
        /* one unit (logistic regression): a dot product per row, summed in the same
         * order as the general loop, so the same bits; few inputs get a copy of the loop
         * compiled for their count, unrolled */
        switch (I) {
        case 1: forward_one_unit(out, inp, weight, bias, B, 1); return;
        case 2: forward_one_unit(out, inp, weight, bias, B, 2); return;
        case 3: forward_one_unit(out, inp, weight, bias, B, 3); return;
        case 4: forward_one_unit(out, inp, weight, bias, B, 4); return;
        case 5: forward_one_unit(out, inp, weight, bias, B, 5); return;
        case 6: forward_one_unit(out, inp, weight, bias, B, 6); return;
        case 7: forward_one_unit(out, inp, weight, bias, B, 7); return;
        case 8: forward_one_unit(out, inp, weight, bias, B, 8); return;
        default: forward_one_unit(out, inp, weight, bias, B, I); return;
        }
    }
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * O;
        const float *x = inp + (size_t)b * I;
        if (bias) memcpy(o, bias, sizeof(float) * (size_t)O);
        else memset(o, 0, sizeof(float) * (size_t)O);
        for (int i = 0; i < I; i++) {
            const float xi = x[i];
            const float *w = weight + (size_t)i * O;
            for (int j = 0; j < O; j++) o[j] += xi * w[j];
        }
    }
}

void ds_dense_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                       const float *inp, const float *weight, float *scratch, int B, int I,
                       int O)
{
    if (O == 1) {
        /* one unit: the same sums as below in the same order, without the inner loops */
        if (dinp)
            for (int b = 0; b < B; b++)
                for (int i = 0; i < I; i++) dinp[(size_t)b * I + i] = 0.0f + dout[b] * weight[i];
        switch (I) {
        case 1: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 1); return;
        case 2: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 2); return;
        case 3: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 3); return;
        case 4: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 4); return;
        case 5: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 5); return;
        case 6: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 6); return;
        case 7: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 7); return;
        case 8: backward_one_unit(dweight, dbias, dout, inp, scratch, B, 8); return;
        default: backward_one_unit(dweight, dbias, dout, inp, scratch, B, I); return;
        }
    }
    /* dinp (B,I) = dout (B,O) @ weight^T: one dot product per (b, i) */
    if (dinp) {
        for (int b = 0; b < B; b++) {
            const float *g = dout + (size_t)b * O;
            float *d = dinp + (size_t)b * I;
            for (int i = 0; i < I; i++) {
                const float *w = weight + (size_t)i * O;
                float acc = 0.0f;
                for (int j = 0; j < O; j++) acc += g[j] * w[j];
                d[i] = acc;
            }
        }
    }
    /* per shard: scratch = inp_s^T @ dout_s (I,O) and column sums of dout_s (O);
     * then dweight += scratch, dbias += its tail */
    float *sw = scratch;
    float *sb = scratch + (size_t)I * O;
    for (int b0 = 0; b0 < B; b0 += DS_SHARD_ROWS) {
        int b1 = b0 + DS_SHARD_ROWS < B ? b0 + DS_SHARD_ROWS : B;
        memset(scratch, 0, sizeof(float) * ((size_t)I * O + (size_t)O));
        for (int b = b0; b < b1; b++) {
            const float *g = dout + (size_t)b * O;
            const float *x = inp + (size_t)b * I;
            for (int i = 0; i < I; i++) {
                const float xi = x[i];
                float *s = sw + (size_t)i * O;
                for (int j = 0; j < O; j++) s[j] += xi * g[j];
            }
            for (int j = 0; j < O; j++) sb[j] += g[j];
        }
        size_t nw = (size_t)I * O;
        for (size_t k = 0; k < nw; k++) dweight[k] += sw[k];
        if (dbias)
            for (int j = 0; j < O; j++) dbias[j] += sb[j];
    }
}
