/*
 * kernel.c - which dense kernels run: names, what this processor supports, and the
 * DESCENT_KERNEL environment variable.
 *
 * Detection asks the processor each time (__builtin_cpu_supports reads flags the
 * runtime filled in once at start-up); nothing here keeps state. The x86 kernels are
 * compiled into every x86-64 build with per-function target attributes, so a plain -O2
 * build still carries them and uses them only where the processor has the instructions.
 */
#include "internal.h"

#include <stdlib.h>

static const char *const names[DS_KERNEL_COUNT] = {"auto", "portable", "avx2", "avx512"};

const char *ds_kernel_name(ds_kernel k)
{
    return (k >= 0 && k < DS_KERNEL_COUNT) ? names[k] : "unknown";
}

ds_status ds_kernel_parse(const char *name, ds_kernel *out)
{
    if (!name || !out) return DS_ERR_ARG;
    for (int k = 0; k < DS_KERNEL_COUNT; k++)
        if (ds_streq_nocase(name, names[k])) {
            *out = (ds_kernel)k;
            return DS_OK;
        }
    return DS_ERR_ARG;
}

int ds_kernel_available(ds_kernel k)
{
    switch (k) {
    case DS_KERNEL_AUTO:
    case DS_KERNEL_PORTABLE: return 1;
#if defined(DS_HAVE_X86_KERNELS)
    case DS_KERNEL_AVX2:
        /* (every processor with AVX2 has POPCNT, which zero skipping counts with) */
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("popcnt");
    case DS_KERNEL_AVX512:
        return ds_kernel_available(DS_KERNEL_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq");
#endif
    default: return 0;
    }
}

ds_kernel ds_kernel_best(void)
{
    if (ds_kernel_available(DS_KERNEL_AVX512)) return DS_KERNEL_AVX512;
    if (ds_kernel_available(DS_KERNEL_AVX2)) return DS_KERNEL_AVX2;
    return DS_KERNEL_PORTABLE;
}

const ds_dense_kernels *ds_dense_kernels_for(ds_kernel k)
{
    if (k == DS_KERNEL_AUTO) k = ds_kernel_best();
    if (!ds_kernel_available(k)) return NULL;
    switch (k) {
#if defined(DS_HAVE_X86_KERNELS)
    case DS_KERNEL_AVX2: return &ds_dense_kernels_avx2;
    case DS_KERNEL_AVX512: return &ds_dense_kernels_avx512;
#endif
    default: return &ds_dense_kernels_portable;
    }
}

ds_status ds_kernel_from_env(ds_kernel *out, ds_error *err)
{
    *out = DS_KERNEL_AUTO;
    const char *v = getenv("DESCENT_KERNEL");
    if (!v || !*v) return DS_OK;
    ds_kernel k;
    if (ds_kernel_parse(v, &k))
        return ds_fail(err, DS_ERR_ARG,
                       "DESCENT_KERNEL=%s: expected auto, portable, avx2 or avx512", v);
    if (!ds_kernel_available(k))
        return ds_fail(err, DS_ERR_ARG,
                       "DESCENT_KERNEL=%s: this processor or build cannot run it (best: %s)",
                       v, ds_kernel_name(ds_kernel_best()));
    *out = k;
    return DS_OK;
}
