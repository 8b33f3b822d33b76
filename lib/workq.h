#ifndef WORKQ_H
#define WORKQ_H

#include <stddef.h>

/*
 * A fixed pool of threads running queued jobs in order.  The threads block
 * every signal, so signals meant for the main loop go there.
 */

struct workq;
typedef void workq_fn(void *arg);

/* 0 or -errno. */
int workq_new(unsigned int threads, struct workq **out);
/* How many threads run jobs.  0 for NULL. */
unsigned int workq_threads(const struct workq *q);
/* Queue fn(arg).  0, or -ENOMEM / -ESHUTDOWN (then fn is not called). */
int workq_push(struct workq *q, workq_fn *fn, void *arg);
/* Run what is queued, stop the threads, free.  A push once it has begun,
 * from a running job too, fails with -ESHUTDOWN.  NULL-safe. */
void workq_free(struct workq *q);

#endif
