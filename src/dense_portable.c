/*
 * dense_portable.c - the dense layer's three products in plain C, one rectangle of the
 * result at a time, so that they can be split among threads.
 *
 * Each element is computed with exactly the operations of the reference kernels in
 * dense.c (each product and sum rounded, in the same order), so these give the reference
 * bits on any machine and for any split. They are the fallback where no vector kernel
 * runs. Loops keep the innermost index contiguous so that the compiler may vectorize
 * across independent elements (which does not change any element's operations).
 */
#include "internal.h"

#include <string.h>

/* columns handled at a time when a partial sum needs a buffer on the stack */
enum { CHUNK = 256 };

static void fwd(const ds_dense_fwd_args *g, int b0, int b1, int o0, int o1, float *scratch)
{
    (void)scratch;
    const int I = g->I, O = g->O, w = o1 - o0;
    for (int b = b0; b < b1; b++) {
        float *z = g->z + (size_t)b * O + o0;
        const float *x = g->inp + (size_t)b * I;
        if (g->bias) memcpy(z, g->bias + o0, sizeof(float) * (size_t)w);
        else memset(z, 0, sizeof(float) * (size_t)w);
        for (int i = 0; i < I; i++) {
            const float xi = x[i];
            const float *wr = g->weight + (size_t)i * O + o0;
            for (int j = 0; j < w; j++) z[j] += xi * wr[j];
        }
        if (g->a) {
            float *a = g->a + (size_t)b * O + o0;
            for (int j = 0; j < w; j++) a[j] = z[j] > 0.0f ? z[j] : 0.0f;
        }
    }
}

static void bwd_inp(const ds_dense_bwd_inp_args *g, int b0, int b1, int i0, int i1,
                    float *scratch)
{
    (void)scratch;
    const int I = g->I, O = g->O;
    for (int b = b0; b < b1; b++) {
        const float *gr = g->dout + (size_t)b * O;
        float *d = g->dinp + (size_t)b * I;
        for (int i = i0; i < i1; i++) {
            const float *wr = g->weight + (size_t)i * O;
            float acc = 0.0f;
            for (int j = 0; j < O; j++) acc += gr[j] * wr[j];
            d[i] = acc;
        }
    }
}

static void bwd_w(const ds_dense_bwd_w_args *g, int i0, int i1, int o0, int o1,
                  float *scratch)
{
    (void)scratch;
    const int B = g->B, I = g->I, O = g->O;
    float p[CHUNK];
    for (int i = i0; i < i1; i++) {
        for (int c0 = o0; c0 < o1; c0 += CHUNK) {
            const int w = o1 - c0 < CHUNK ? o1 - c0 : CHUNK;
            float *dw = g->dweight + (size_t)i * O + c0;
            for (int s0 = 0; s0 < B; s0 += DS_SHARD_ROWS) {
                const int s1 = B - s0 < DS_SHARD_ROWS ? B : s0 + DS_SHARD_ROWS;
                memset(p, 0, sizeof(float) * (size_t)w);
                for (int b = s0; b < s1; b++) {
                    const float xi = g->inp[(size_t)b * I + i];
                    const float *gr = g->dout + (size_t)b * O + c0;
                    for (int j = 0; j < w; j++) p[j] += xi * gr[j];
                }
                if (g->set && s0 == 0) memcpy(dw, p, sizeof(float) * (size_t)w);
                else
                    for (int j = 0; j < w; j++) dw[j] += p[j];
            }
        }
    }
}

static void relu_bwd(float *g, const float *z, float *gT, int B, int O, int o0, int o1)
{
    for (int b = 0; b < B; b++)
        for (int o = o0; o < o1; o++) {
            const size_t i = (size_t)b * O + o;
            g[i] = z[i] > 0.0f ? g[i] : 0.0f;
        }
    if (gT)
        for (int b = 0; b < B; b++)
            for (int o = o0; o < o1; o++) gT[(size_t)o * B + b] = g[(size_t)b * O + o];
}

const ds_dense_kernels ds_dense_kernels_portable = {DS_KERNEL_PORTABLE, 0, fwd, bwd_inp, bwd_w,
                                                    relu_bwd, NULL};
