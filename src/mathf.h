/* mathf.h - descent's own float exponential and log(1 + e), written for loops.
 *
 * The sigmoid, softmax and binary crossentropy spend most of a tiny model's step in
 * libm's expf and log1pf: calls that no compiler can vectorize, and whose last bit
 * differs between libm versions. These two are branch-free (selects only), so a loop of
 * them vectorizes, and they are plain IEEE single-precision arithmetic with no fused
 * operations (the library builds with -ffp-contract=off), so they give the same bits
 * on every machine. tests/test_mathf.c checks them against libm's double functions.
 *
 *   ds_expf(x): x = n ln2 + r with n = round(x / ln2), |r| <= ln2 / 2 (Cody and Waite's
 *       two-part ln2, so n ln2 is exact); e^r by a degree-7 polynomial, 1 + r + r^2 (c2 +
 *       c3 r + ... + c7 r^5) (Cephes's minimax coefficients for expf, within 1 ulp); then
 *       times 2^n, built from the exponent bits in two halves so that results down to
 *       the subnormals come out right. Below -103.97 the result is 0, above 88.72 it is
 *       +inf; NaN stays NaN. Largest error over every 7th float: 0.98 ulp.
 *   ds_log1pf_unit(e) = log(1 + e) for 0 <= e <= 1 (what the crossentropy and softplus
 *       need, with e = e^-|x|): 2 atanh(s) with s = e / (2 + e) <= 1/3, by its odd
 *       series 2 s (1 + s^2/3 + s^4/5 + ... + s^12/13); the first omitted term is below
 *       2^-26 relative. No cancellation near e = 0, so the result keeps its relative
 *       accuracy however small e is. NaN stays NaN. Largest error measured: 1.96 ulp.
 */
#ifndef DESCENT_MATHF_H
#define DESCENT_MATHF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float ds_pow2i_(int32_t n) /* 2^n for -126 <= n <= 127 */
{
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float ds_expf(float x)
{
    const float lo = -103.97208f, hi = 88.72284f;
    /* every comparison made unconditionally, so that only selects remain */
    int nan = x != x, below = x < lo, above = x > hi;
    float xc = below ? lo : x;
    xc = above ? hi : xc;
    xc = nan ? 0.0f : xc;
    /* round to nearest by the 1.5 * 2^23 trick (|x / ln2| < 150) */
    const float shift = 12582912.0f;
    float t = xc * 1.44269504088896341f;
    float n = (t + shift) - shift;
    float r = xc - n * 0.693359375f;  /* ln2's first 9 bits: n * this is exact */
    r = r - n * -2.12194440e-4f;      /* the rest of ln2 */
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    int32_t ni = (int32_t)n;
    int32_t n1 = ni / 2, n2 = ni - n1; /* each within [-75, 64] */
    float v = p * ds_pow2i_(n1) * ds_pow2i_(n2);
    v = below ? 0.0f : v;
    v = above ? INFINITY : v;
    return nan ? x : v;
}

static inline float ds_log1pf_unit(float e)
{
    float s = e / (2.0f + e);
    float s2 = s * s;
    float p = 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    return 2.0f * s + 2.0f * s * (s2 * p);
}

#endif
