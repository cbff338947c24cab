/*
 * alloc_count.h - counts the program's allocations (glibc), so a test can show that a
 * training loop allocates nothing after its first batch. Include it in exactly one file
 * of a test program: it replaces malloc, calloc and realloc. Under AddressSanitizer or
 * ThreadSanitizer, which bring their own allocator, it defines nothing and COUNT_MALLOC
 * stays undefined, so the tests compile the count out there.
 */
#ifndef DS_ALLOC_COUNT_H
#define DS_ALLOC_COUNT_H

#include <stddef.h>

/* gcc names the sanitizers with macros, clang (before 15, for ThreadSanitizer) only
 * through __has_feature */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DS_ALLOC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DS_ALLOC_SANITIZED 1
#endif
#endif

#if !defined(DS_ALLOC_SANITIZED) && defined(__GLIBC__)
#define COUNT_MALLOC 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static long n_allocs;
void *malloc(size_t n)
{
    n_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    n_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    n_allocs++;
    return __libc_realloc(p, n);
}
#endif

#endif
