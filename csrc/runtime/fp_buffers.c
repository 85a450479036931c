/* fp_buffers.c: per-thread buffers (the GEMM's packing panels, the kernels' scratch). Kept in
 * thread-local pointers, allocated at a thread's first request, freed by a pthread key
 * destructor when the thread exits, so short-lived threads do not leak. */
#if !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200112L   /* posix_memalign under -std=c11 */
#endif
#include <pthread.h>
#include <stdlib.h>
#include "fp_runtime.h"

typedef struct { void *p[FP_SLOTS]; } fp_thread_buffers;
static _Thread_local fp_thread_buffers fp_tls;

static pthread_key_t fp_key;
static pthread_once_t fp_key_once = PTHREAD_ONCE_INIT;
static int fp_key_ok = 0;

static void fp_buffers_free(void *v)
{
    fp_thread_buffers *t = (fp_thread_buffers *)v;
    for (int i = 0; i < FP_SLOTS; i++) { free(t->p[i]); t->p[i] = NULL; }
}

static void fp_key_init(void)
{
    fp_key_ok = pthread_key_create(&fp_key, fp_buffers_free) == 0;
}

void *fp_thread_buffer(int slot, size_t bytes)
{
    fp_thread_buffers *t = &fp_tls;
    if (!t->p[slot]) {
        void *p = NULL;
        bytes = (bytes + 63) & ~(size_t)63;
        if (posix_memalign(&p, 64, bytes) != 0) p = NULL;
        t->p[slot] = p;
        pthread_once(&fp_key_once, fp_key_init);
        if (p && fp_key_ok && !pthread_getspecific(fp_key)) pthread_setspecific(fp_key, t);
    }
    return t->p[slot];
}
