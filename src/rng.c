/*
 * rng.c - the library's only source of randomness: xoshiro256** seeded through
 * splitmix64, with uniform, normal, bounded-integer and permutation draws on top.
 *
 * Every sequence below is fully specified in 64-bit integer and IEEE double arithmetic,
 * so a seed gives the same numbers on every platform. tests/ref/rng_ref.py is an
 * independent Python implementation of the same definitions; tests/ref/rng_golden.h holds
 * its output.
 *
 *   splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
 *   OOPSLA 2014; constants of Vigna's splitmix64.c):
 *       G = 0x9e3779b97f4a7c15 (2^64 / golden ratio)
 *       mix64(z) = z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
 *                  z *= 0x94d049bb133111eb; z ^= z >> 31
 *       next(x)  = x += G; return mix64(x)
 *   xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number generators",
 *   ACM TOMS 2021; period 2^256 - 1):
 *       out = rotl(s1 * 5, 7) * 9
 *       t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45)
 *   ds_rng_seed(seed): s0..s3 = four successive next(x) from x = seed (as Blackman and
 *       Vigna recommend). mix64 is a bijection, so the four words are distinct and the
 *       state is never all zero.
 *   ds_seed_mix(seed, a) = mix64(h + (a + 1) G) with h = mix64(seed + G): the output
 *       number a of a splitmix64 generator whose state starts at the first splitmix64
 *       output of `seed`. For a fixed seed, different a give different results (mix64 is
 *       a bijection), and neighbouring a give successive splitmix64 outputs, which are
 *       statistically independent as far as BigCrush can tell.
 *   ds_rng_split(seed, stream) = the generator seeded with ds_seed_mix(seed, stream).
 *   uniform = (out >> 11) * 2^-53: the top 53 bits, exact in a double, in [0, 1).
 *   normal  = Box-Muller: u1, u2 uniform; r = sqrt(-2 ln(1 - u1)), t = 2 pi u2;
 *       returns r cos t and keeps r sin t for the next call. 1 - u1 lies in (0, 1], so the
 *       logarithm is finite, and |normal| <= sqrt(2 * 53 ln 2) < 8.6. This is the only
 *       part that uses libm (log, sqrt, cos, sin): sqrt is exact everywhere, the others
 *       may differ in the last bit between C libraries.
 *   below(n), n <= 2^32 = Lemire's multiply-shift with rejection (D. Lemire, "Fast
 *       random integer generation in an interval", ACM TOMACS 2019): m = (out >> 32) * n;
 *       while m mod 2^32 < 2^32 mod n, draw again; return m >> 32. Every value of the
 *       high word then has exactly floor(2^32 / n) accepted low words, so every result is
 *       equally likely; the usual case costs a multiplication, no division.
 *   below(n), n > 2^32 = rejection: threshold = 2^64 mod n; draw out until out >=
 *       threshold, return out mod n. [threshold, 2^64) holds a whole multiple of n
 *       values, so every remainder is equally likely (OpenBSD's arc4random_uniform).
 *   permutation = Fisher-Yates ("Algorithm P", Knuth TAOCP 3.4.2): perm = 0..n-1, then
 *       for i = n-1 down to 1 swap perm[i] with perm[below(i + 1)].
 *
 * Not here: a jump function (streams come from ds_rng_split instead) and floats (callers
 * convert doubles themselves).
 */
#include "internal.h"

#include <math.h>

#define SPLITMIX_GAMMA UINT64_C(0x9e3779b97f4a7c15)
#define TWO_PI 6.28318530717958647692

/* ------------------------------------------------------------------------------------ */
/* splitmix64 */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t splitmix64_next(uint64_t *x)
{
    *x += SPLITMIX_GAMMA;
    return mix64(*x);
}

uint64_t ds_seed_mix(uint64_t seed, uint64_t a)
{
    uint64_t h = mix64(seed + SPLITMIX_GAMMA);
    return mix64(h + (a + 1) * SPLITMIX_GAMMA);
}

/* ------------------------------------------------------------------------------------ */
/* xoshiro256** */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void ds_rng_seed(ds_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64_next(&x);
    rng->spare = 0.0;
    rng->has_spare = 0;
}

ds_rng ds_rng_split(uint64_t seed, uint64_t stream)
{
    ds_rng r;
    ds_rng_seed(&r, ds_seed_mix(seed, stream));
    return r;
}

static inline uint64_t next_u64(ds_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t ds_rng_u64(ds_rng *rng) { return next_u64(rng); }

/* ------------------------------------------------------------------------------------ */
/* derived draws */

double ds_rng_uniform(ds_rng *rng)
{
    /* 2^-53 = 1 / 9007199254740992; the product is exact */
    return (double)(ds_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double ds_rng_normal(ds_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u1 = ds_rng_uniform(rng);
    double u2 = ds_rng_uniform(rng);
    double r = sqrt(-2.0 * log(1.0 - u1)); /* 1 - u1 in (0, 1]: no log(0) */
    double t = TWO_PI * u2;
    rng->spare = r * sin(t);
    rng->has_spare = 1;
    return r * cos(t);
}

static inline uint64_t below(ds_rng *rng, uint64_t n)
{
    if (n <= UINT64_C(1) << 32) {
        /* Lemire's multiply-shift: the high word of (top 32 bits) * n, rejecting the
         * low words below 2^32 mod n; the division is needed only when the low word
         * falls below n (rarely, for the n of a shuffle) */
        uint64_t m = (next_u64(rng) >> 32) * n;
        if ((uint32_t)m < n) {
            uint64_t t = ((UINT64_C(1) << 32) - n) % n;
            while ((uint32_t)m < t) m = (next_u64(rng) >> 32) * n;
        }
        return m >> 32;
    }
    /* (2^64 - n) mod n == 2^64 mod n, computed without 128-bit arithmetic */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = next_u64(rng);
        if (x >= threshold) return x % n;
    }
}

uint64_t ds_rng_below(ds_rng *rng, uint64_t n)
{
    if (n == 0) return 0; /* outside the contract (n > 0); draws nothing */
    return below(rng, n);
}

void ds_rng_permutation(ds_rng *rng, int *perm, int n)
{
    ds_rng r = *rng; /* a local copy the compiler can keep in registers */
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)below(&r, (uint64_t)i + 1);
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    *rng = r;
}
