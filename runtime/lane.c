/* Device lanes (lane.h): a mutex-protected FIFO of jobs that live on their
 * callers' stacks, one worker thread, and a semaphore per job for the wake-up. */
#include "lane.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct lane_job {
	struct lane_job *next;
	void *prepared;
	struct infd_error *err;
	infd_status status;
	sem_t done;
};

struct infd_lane {
	struct infd_backend be;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct lane_job *head, *tail;
	bool stopping;
	struct infd_lane_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *lane_main(void *arg)
{
	struct infd_lane *l = arg;
	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->head && !l->stopping)
			pthread_cond_wait(&l->wake, &l->lock);
		struct lane_job *j = l->head;
		if (!j)
			break; /* stopping, nothing left */
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->stats.queued--;
		pthread_mutex_unlock(&l->lock);
		uint64_t t0 = now_ns();
		j->status = l->be.ops->execute(l->be.ctx, j->prepared, j->err);
		uint64_t spent = now_ns() - t0;
		pthread_mutex_lock(&l->lock);
		l->stats.runs++;
		l->stats.busy_ns += spent;
		sem_post(&j->done); /* after this the job's memory belongs to its caller again */
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

infd_status infd__lane_start(struct infd_backend be, struct infd_lane **out, struct infd_error *err)
{
	struct infd_lane *l = calloc(1, sizeof *l);
	if (!l)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	l->be = be;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	if (pthread_create(&l->thread, NULL, lane_main, l) != 0) {
		pthread_cond_destroy(&l->wake);
		pthread_mutex_destroy(&l->lock);
		free(l);
		return infd__fail(err, INFD_NO_MEMORY, "cannot start the worker thread of backend '%s'", be.ops->name);
	}
	*out = l;
	return INFD_OK;
}

infd_status infd__lane_run(struct infd_lane *l, void *prepared, struct infd_error *err)
{
	struct lane_job j = {.prepared = prepared, .err = err};
	sem_init(&j.done, 0, 0);
	pthread_mutex_lock(&l->lock);
	if (l->tail)
		l->tail->next = &j;
	else
		l->head = &j;
	l->tail = &j;
	if (++l->stats.queued > l->stats.max_queued)
		l->stats.max_queued = l->stats.queued;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	while (sem_wait(&j.done) != 0)
		; /* EINTR */
	sem_destroy(&j.done);
	return j.status;
}

void infd__lane_stats(struct infd_lane *l, struct infd_lane_stats *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->stats;
	pthread_mutex_unlock(&l->lock);
}

void infd__lane_stop(struct infd_lane *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
