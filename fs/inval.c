#include "lib/compat.h"
#include "fs/fs-internal.h"

/*
 * Telling the kernel to forget: the page cache of a file after its last
 * close (one thread, coalesced), and the entries and directories a reload
 * changed.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inject/view.h"

/*
 * Page-cache invalidation after close, coalesced.  A MAP_PRIVATE mapping of
 * a direct_io file goes through the page cache, so after the last close we
 * ask the kernel to drop the inode's pages.  Not from the loop thread: the
 * kernel may need the loop to answer a READ (a page fault elsewhere) before
 * it can finish.  One thread takes the inodes closed in the last few
 * milliseconds and drops them together, so a busy mount pays one wakeup per
 * period, not one per close.
 *
 * An open needs no drop of its own: without keep_cache the kernel empties
 * the inode's page cache when it opens a file.  So an open takes its inode
 * off the queue (inval_cancel), and a file opened and closed over and over
 * costs no notification at all; its last close still queues one.
 */
#define INVAL_DELAY_NS 2000000L

struct invalq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	fuse_ino_t *inos;
	size_t n, cap;
	int stop, started;
	int idle;		/* the thread waits for work: signal it */
	pthread_t thread;
};

static void *inval_thread(void *arg)
{
	struct harombefs *h = arg;
	struct invalq *q = h->inval;
	fuse_ino_t batch[256];
	size_t n, i;

	pthread_mutex_lock(&q->lock);
	while (!q->stop || q->n) {
		if (!q->n) {
			q->idle = 1;
			pthread_cond_wait(&q->cond, &q->lock);
			q->idle = 0;
			continue;
		}
		if (!q->stop) {
			struct timespec ts = { 0, INVAL_DELAY_NS };

			pthread_mutex_unlock(&q->lock);
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&q->lock);
		}
		n = q->n < ARRAY_SIZE(batch) ? q->n : ARRAY_SIZE(batch);
		memcpy(batch, q->inos + q->n - n, n * sizeof(*batch));
		q->n -= n;
		pthread_mutex_unlock(&q->lock);
		for (i = 0; i < n; i++)
			fuse_lowlevel_notify_inval_inode(h->se, batch[i], 0, 0);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

void inval_later(struct harombefs *h, fuse_ino_t ino)
{
	struct invalq *q = h->inval;
	size_t i;

	if (!q || !q->started)
		return;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->n && q->inos[i] != ino; i++)
		;
	if (i == q->n) {
		if (q->n == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 64;
			fuse_ino_t *ni = realloc(q->inos, cap * sizeof(*ni));

			if (ni) {
				q->inos = ni;
				q->cap = cap;
			}
		}
		if (q->n < q->cap) {
			q->inos[q->n++] = ino;
			if (q->idle)
				pthread_cond_signal(&q->cond);
		}
	}
	pthread_mutex_unlock(&q->lock);
}

/* An open of ino: the kernel drops its page cache itself (no keep_cache). */
void inval_cancel(struct harombefs *h, fuse_ino_t ino)
{
	struct invalq *q = h->inval;
	size_t i;

	if (!q || !q->started)
		return;
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->n; i++) {
		if (q->inos[i] == ino) {
			q->inos[i] = q->inos[--q->n];
			break;
		}
	}
	pthread_mutex_unlock(&q->lock);
}
int inval_start(struct harombefs *h)
{
	sigset_t all, old;
	int r;

	h->inval = calloc(1, sizeof(*h->inval));
	if (!h->inval)
		return -ENOMEM;
	pthread_mutex_init(&h->inval->lock, NULL);
	pthread_cond_init(&h->inval->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&h->inval->thread, NULL, inval_thread, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	h->inval->started = r == 0;
	return r;
}

void inval_stop(struct harombefs *h)
{
	struct invalq *q = h->inval;

	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->stop = 1;
		pthread_cond_signal(&q->cond);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q->inos);
	free(q);
	h->inval = NULL;
}

/* The attributes of a changed view's files (mode, owner: fs.c lets the
 * kernel keep them) for the holders of open descriptors; walks look
 * every name up again anyway. */
static void inval_files(struct harombefs *h, const struct view *v)
{
	struct node *n;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fs_view_files) + 1 + v->n + v->n_templates; i++) {
		pthread_rwlock_rdlock(&h->node_lock);
		if (i < ARRAY_SIZE(fs_view_files))
			n = node_find_locked(h, fs_view_files[i].kind, v->container, NULL);
		else if (i == ARRAY_SIZE(fs_view_files))
			n = node_find_locked(h, N_GENERATION, v->container, NULL);
		else if (i <= ARRAY_SIZE(fs_view_files) + v->n)
			n = node_find_locked(h, N_SECRET, v->container,
					     v->secrets[i - ARRAY_SIZE(fs_view_files) - 1].name);
		else
			n = node_find_locked(h, N_TEMPLATE, v->container,
					     v->templates[i - ARRAY_SIZE(fs_view_files) - 1 - v->n].name);
		pthread_rwlock_unlock(&h->node_lock);
		if (n)
			fuse_lowlevel_notify_inval_inode(h->se, n->ino, -1, 0);
	}
}

/* Tell the kernel to forget what changed between two generations. */
void inval_reload(struct harombefs *h, const struct gen *old, const struct gen *new)
{
	struct node *n;
	size_t i, k;
	int pass;

	if (!h->se)
		return;
	for (pass = 0; pass < 2; pass++) {
		const struct viewset *a = pass ? new->views : old->views;
		const struct viewset *b = pass ? old->views : new->views;

		for (i = 0; i < a->n; i++) {
			const struct view *va = &a->views[i], *vb = viewset_find(b, va->container);

			if (vb && view_equal(va, vb))
				continue;
			fuse_lowlevel_notify_inval_entry(h->se, FUSE_ROOT_ID, va->container,
							 strlen(va->container));
			pthread_rwlock_rdlock(&h->node_lock);
			n = node_find_locked(h, N_VIEW, va->container, NULL);
			struct node *sd = node_find_locked(h, N_SECRETS, va->container, NULL);
			pthread_rwlock_unlock(&h->node_lock);
			if (n)
				fuse_lowlevel_notify_inval_inode(h->se, n->ino, -1, 0);
			if (sd) {
				fuse_lowlevel_notify_inval_inode(h->se, sd->ino, -1, 0);
				for (k = 0; k < va->n; k++)
					fuse_lowlevel_notify_inval_entry(h->se, sd->ino, va->secrets[k].name,
									 strlen(va->secrets[k].name));
			}
			inval_files(h, va);
		}
	}
	fuse_lowlevel_notify_inval_inode(h->se, FUSE_ROOT_ID, -1, 0);
}
