/*
 * test_inside.c - the outputs of layer K (what descent features writes) are exactly the
 * forward pass of the first K + 1 layers, computed here independently in double.
 */
#include "harness.h"
#include "descent.h"

#include <math.h>
#include <stdlib.h>

static void test_layer_outputs_are_the_forward_pass(void)
{
    enum { N = 7, I = 3 };
    ds_model *m;
    ds_model_create(&m, I, NULL);
    int units[3] = {5, 4, 2};
    ds_act_kind acts[3] = {DS_ACT_TANH, DS_ACT_RELU, DS_ACT_SOFTMAX};
    for (int k = 0; k < 3; k++) {
        ds_dense_config c = ds_dense_defaults(units[k]);
        c.activation = ds_activation_defaults(acts[k]);
        c.bias_initializer = ds_initializer_defaults(DS_INIT_RANDOM_NORMAL);
        c.bias_initializer.stddev = 0.3;
        ds_model_add_dense(m, &c, NULL);
        if (k == 0) ds_model_add_dropout(m, 0.5f, NULL); /* identity in inference */
    }
    CHECK_OK(ds_model_build(m, 11, NULL));
    float x[N * I];
    ds_rng r = ds_rng_split(3, 4);
    for (int i = 0; i < N * I; i++) x[i] = (float)ds_rng_normal(&r);
    const float *p = ds_model_params_const(m);
    /* independent forward in double, layer by layer */
    double a[N * 8], b[N * 8];
    for (int i = 0; i < N * I; i++) a[i] = (double)x[i];
    int width = I;
    int layer_of[3] = {0, 2, 3};
    for (int k = 0; k < 3; k++) {
        int L = layer_of[k], O = units[k];
        const float *w = p + ds_model_kernel_offset(m, L), *bias = p + ds_model_bias_offset(m, L);
        for (int n = 0; n < N; n++) {
            double mx = -(double)INFINITY, sum = 0;
            for (int o = 0; o < O; o++) {
                double z = (double)bias[o];
                for (int i = 0; i < width; i++) z += a[n * width + i] * (double)w[i * O + o];
                b[n * O + o] = acts[k] == DS_ACT_TANH   ? tanh(z)
                               : acts[k] == DS_ACT_RELU ? (z > 0 ? z : 0)
                                                        : z;
                if (z > mx) mx = z;
            }
            if (acts[k] == DS_ACT_SOFTMAX) {
                for (int o = 0; o < O; o++) sum += exp(b[n * O + o] - mx);
                for (int o = 0; o < O; o++) b[n * O + o] = exp(b[n * O + o] - mx) / sum;
            }
        }
        width = O;
        for (int i = 0; i < N * O; i++) a[i] = b[i];
        float out[N * 8];
        CHECK_OK(ds_model_layer_outputs(m, L, x, N, out, NULL));
        for (int i = 0; i < N * O; i++) CHECK_CLOSE(out[i], a[i], 1e-6, 1e-5);
        if (k == 0) { /* the dropout layer passes layer 0's outputs through unchanged */
            float d[N * 8];
            CHECK_OK(ds_model_layer_outputs(m, 1, x, N, d, NULL));
            for (int i = 0; i < N * O; i++) CHECK(d[i] == out[i], "dropout at inference");
        }
    }
    float out[N * 2];
    ds_error e;
    CHECK(ds_model_layer_outputs(m, 4, x, N, out, &e) == DS_ERR_ARG, "layer out of range");
    ds_model_free(m);
}

int main(void)
{
    RUN(test_layer_outputs_are_the_forward_pass);
    return HARNESS_DONE();
}
