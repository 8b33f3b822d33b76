/* scan and scan-git on several threads (--threads N): inputs go to the
 * worker threads of a work queue, and their results come back to the
 * submitting thread in the order the inputs were submitted, through a ring
 * of window slots.  Only the submitting thread reports, counts and writes
 * messages, so the output is the same bytes with 1 thread or 64. */
#include "lib/compat.h"
#include "cli/secrets-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/workq.h"

struct slot {
	struct spool *p;
	void *item;
	int ready;		/* work is done; under p->lock */
};

struct spool {
	struct workq *q;	/* NULL: one thread, work runs in spool_submit */
	spool_fn *work, *done;
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cv;	/* a slot became ready */
	struct slot *ring;
	size_t window;
	size_t head, tail;	/* next to hand back, next to submit */
};

int spool_new(unsigned int threads, size_t window, spool_fn *work, spool_fn *done, void *arg, struct spool **out)
{
	struct spool *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->work = work;
	p->done = done;
	p->arg = arg;
	p->window = window ? window : 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (threads > 1) {
		if (!(p->ring = calloc(p->window, sizeof(*p->ring)))) {
			spool_free(p);
			return -ENOMEM;
		}
		if ((r = workq_new(threads, &p->q))) {
			spool_free(p);
			return r;
		}
	}
	*out = p;
	return 0;
}

static void run(void *arg)
{
	struct slot *s = arg;
	struct spool *p = s->p;

	p->work(p->arg, s->item);
	pthread_mutex_lock(&p->lock);
	s->ready = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->lock);
}

/* Hand back what is ready, in order; then wait while more than keep items
 * are in flight. */
static void drain(struct spool *p, size_t keep)
{
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct slot *s = &p->ring[p->head % p->window];

		if (p->head < p->tail && s->ready) {
			void *item = s->item;

			s->ready = 0;
			s->item = NULL;
			p->head++;
			pthread_mutex_unlock(&p->lock);
			p->done(p->arg, item);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->tail - p->head <= keep)
			break;
		pthread_cond_wait(&p->cv, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
}

void spool_submit(struct spool *p, void *item)
{
	struct slot *s;

	if (!p->q) {
		p->work(p->arg, item);
		p->done(p->arg, item);
		return;
	}
	drain(p, p->window - 1);
	s = &p->ring[p->tail % p->window];
	s->p = p;
	s->item = item;
	s->ready = 0;
	p->tail++;
	if (workq_push(p->q, run, s))
		run(s);		/* no memory for the queue: work here */
	drain(p, p->window);	/* hand back what is ready without waiting */
}

void spool_wait(struct spool *p)
{
	if (p && p->q)
		drain(p, 0);
}

void spool_free(struct spool *p)
{
	if (!p)
		return;
	spool_wait(p);
	workq_free(p->q);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->lock);
	free(p->ring);
	free(p);
}

size_t secrets_arena_size(unsigned int threads)
{
	return LOCKED_ARENA + (threads > 1 ? (size_t)(threads - 1) * SECRETS_THREAD_ARENA : 0);
}

/* Each thread holds a stream's window (and the windows of what it decodes
 * inside it) in locked memory: the default stays within what RLIMIT_MEMLOCK
 * lets an unprivileged user lock, rather than fail where one thread works. */
unsigned int secrets_threads_default(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = cpus < 1 ? 1 : cpus > SECRETS_THREADS_DEFAULT_MAX ? SECRETS_THREADS_DEFAULT_MAX : (unsigned int)cpus;
	struct rlimit rl;

	if (geteuid() != 0 && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		while (n > 1 && secrets_arena_size(n) + (64u << 10) > rl.rlim_cur)
			n--;
	return n;
}
