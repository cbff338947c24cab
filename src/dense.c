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

void ds_dense_forward(float *out, const float *inp, const float *weight, const float *bias,
                      int B, int I, int O)
{
    /* out (B,O) = bias (O) + inp (B,I) @ weight (I,O); the i loop outside the o loop
     * keeps the inner loop contiguous in weight and out. */
    if (O == 1) {
        /* one unit (logistic regression): a dot product per row, summed in the same
         * order as the general loop, so the same bits */
        for (int b = 0; b < B; b++) {
            const float *x = inp + (size_t)b * I;
            float acc = bias ? bias[0] : 0.0f;
            for (int i = 0; i < I; i++) acc += x[i] * weight[i];
            out[b] = acc;
        }
        return;
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
        for (int b0 = 0; b0 < B; b0 += DS_SHARD_ROWS) {
            int b1 = b0 + DS_SHARD_ROWS < B ? b0 + DS_SHARD_ROWS : B;
            float *sw = scratch, sb = 0.0f;
            for (int i = 0; i < I; i++) sw[i] = 0.0f;
            for (int b = b0; b < b1; b++) {
                const float g = dout[b];
                const float *x = inp + (size_t)b * I;
                for (int i = 0; i < I; i++) sw[i] += x[i] * g;
                sb += g;
            }
            for (int i = 0; i < I; i++) dweight[i] += sw[i];
            if (dbias) dbias[0] += sb;
        }
        return;
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
