#include "compat.h"
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct job {
	workq_fn *fn;
	void *arg;
	struct job *next;
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	int stopping;
	unsigned int n;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct workq *q = arg;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		j = q->head;
		if (!j) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);
		j->fn(j->arg);
		free(j);
	}
}

int workq_new(unsigned int threads, struct workq **out)
{
	struct workq *q = calloc(1, sizeof(*q));
	sigset_t all, old;
	unsigned int i;
	int r = 0;

	*out = NULL;
	if (!q || !(q->threads = calloc(threads ? threads : 1, sizeof(*q->threads)))) {
		free(q);
		return -ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < threads && !r; i++) {
		r = -pthread_create(&q->threads[i], NULL, worker, q);
		if (!r)
			q->n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		workq_free(q);
		return r;
	}
	*out = q;
	return 0;
}

unsigned int workq_threads(const struct workq *q)
{
	return q ? q->n : 0;
}

int workq_push(struct workq *q, workq_fn *fn, void *arg)
{
	struct job *j = malloc(sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		free(j);
		return -ESHUTDOWN;
	}
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void workq_free(struct workq *q)
{
	unsigned int i;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < q->n; i++)
		pthread_join(q->threads[i], NULL);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->threads);
	free(q);
}
