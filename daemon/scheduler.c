/* The scheduler: one bounded queue per device (the CPU, for now) with four
 * priority levels, and dedicated worker threads that execute requests and hand
 * results back — to the client's futex for doorbell requests, to the loop thread
 * (queue + uv_async_t) for nng requests. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "futex.h"

static void finish_doorbell(struct infd_job *job)
{
	struct infd_session *s = job->session;
	struct infd_shm_control *ctrl = s->ctrl;
	ctrl->exec_ns = job->finished_ns - job->started_ns;
	ctrl->queue_ns = job->started_ns - job->enqueued_ns;
	atomic_store_explicit((_Atomic uint32_t *)&ctrl->status, (uint32_t)job->status, memory_order_relaxed);
	atomic_store_explicit((_Atomic uint32_t *)&ctrl->done_seq, job->doorbell_seq, memory_order_release);
	infd__futex_wake(&ctrl->done_seq);
}

static void run_job(struct infd_daemon *d, struct infd_job *job)
{
	struct infd_session *s = job->session;
	struct infd_error err = {0};
	job->started_ns = infd__now_ns();
	if (job->deadline_ns && job->started_ns > job->deadline_ns) {
		job->status = INFD_DEADLINE_EXCEEDED;
		snprintf(job->error, sizeof job->error, "the deadline passed after %.3f ms in the queue",
			 (double)(job->started_ns - job->enqueued_ns) / 1e6);
	} else if (atomic_load(&s->closing) || !s->method) {
		job->status = s->method ? INFD_SHUTTING_DOWN : INFD_NOT_FOUND;
		snprintf(job->error, sizeof job->error, "%s",
			 s->method ? "the session is closing" : "the session lost its model (reload changed its memory plan); reopen it");
	} else {
		job->status = infd__method_execute(s->method, &err);
		if (job->status)
			snprintf(job->error, sizeof job->error, "%.500s", err.msg);
	}
	job->finished_ns = infd__now_ns();
	uint64_t total = job->finished_ns - job->enqueued_ns;
	infd__stats_record(&s->stats, total, job->status == INFD_OK);
	infd__stats_record(&s->model->stats, total, job->status == INFD_OK);
	job->sequence = ++s->sequence;
	if (atomic_load(&s->migrate_pending)) {
		pthread_mutex_lock(&d->session_lock);
		infd__session_migrate(s);
		pthread_mutex_unlock(&d->session_lock);
	}
	bool doorbell = job->via_doorbell;
	bool notify = s->model->state == INFD_MODEL_UNLOADING || atomic_load(&s->closing);
	if (doorbell)
		finish_doorbell(job);
	/* The last touches of the session and its model: once busy is clear and the
	 * model's in-flight count has dropped, the loop thread may free both (the
	 * doorbell thread waits out this short window instead of answering BUSY). */
	atomic_store(&s->busy, false);
	atomic_fetch_sub(&s->model->inflight, 1);
	/* nng requests are answered right here (nng contexts may be used from any
	 * thread); the job no longer refers to the session. */
	if (doorbell)
		free(job);
	else
		infd__handle_job_done(d, job);
	/* The loop only needs to hear about it when someone waits for the model or
	 * the session to go idle. */
	if (notify)
		uv_async_send(&d->done_async);
}

static void *worker_main(void *arg)
{
	struct infd_daemon *d = arg;
	struct infd_queue *q = &d->queue;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->stopping && q->depth == 0)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->depth == 0) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		struct infd_job *job = NULL;
		for (int p = 3; p >= 0 && !job; p--) {
			job = q->head[p];
			if (job) {
				q->head[p] = job->next;
				if (!q->head[p])
					q->tail[p] = NULL;
			}
		}
		q->depth--;
		q->running++;
		pthread_mutex_unlock(&q->lock);
		run_job(d, job);
		pthread_mutex_lock(&q->lock);
		q->running--;
		pthread_mutex_unlock(&q->lock);
	}
}

infd_status infd__sched_run_or_submit(struct infd_daemon *d, struct infd_job *job)
{
	struct infd_queue *q = &d->queue;
	pthread_mutex_lock(&q->lock);
	bool inline_slot = !q->stopping && q->depth == 0 && q->running < q->max_running;
	if (inline_slot) {
		q->running++;
		q->submitted++;
		atomic_fetch_add(&job->session->model->inflight, 1);
	}
	pthread_mutex_unlock(&q->lock);
	if (!inline_slot)
		return infd__sched_submit(d, job);
	job->enqueued_ns = infd__now_ns();
	run_job(d, job);
	pthread_mutex_lock(&q->lock);
	q->running--;
	/* A request may have queued meanwhile behind busy workers. */
	if (q->depth)
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return INFD_OK;
}

infd_status infd__sched_submit(struct infd_daemon *d, struct infd_job *job)
{
	struct infd_queue *q = &d->queue;
	job->enqueued_ns = infd__now_ns();
	job->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		return INFD_SHUTTING_DOWN;
	}
	if (q->depth >= q->max_depth) {
		q->rejected++;
		pthread_mutex_unlock(&q->lock);
		return INFD_BUSY;
	}
	uint8_t p = job->priority > 3 ? 3 : job->priority;
	if (q->tail[p])
		q->tail[p]->next = job;
	else
		q->head[p] = job;
	q->tail[p] = job;
	q->depth++;
	q->submitted++;
	atomic_fetch_add(&job->session->model->inflight, 1);
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return INFD_OK;
}

uint32_t infd__sched_depth(struct infd_daemon *d)
{
	pthread_mutex_lock(&d->queue.lock);
	uint32_t n = d->queue.depth;
	pthread_mutex_unlock(&d->queue.lock);
	return n;
}

infd_status infd__sched_start(struct infd_daemon *d, struct infd_error *err)
{
	struct infd_queue *q = &d->queue;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->max_depth = d->cfg.queue_depth;
	q->max_running = d->cfg.workers;
	d->workers = calloc(d->cfg.workers, sizeof *d->workers);
	if (!d->workers)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t i = 0; i < d->cfg.workers; i++) {
		if (pthread_create(&d->workers[i], NULL, worker_main, d) != 0)
			return infd__fail(err, INFD_NO_MEMORY, "cannot start worker thread %u", i);
		d->n_workers++;
	}
	return INFD_OK;
}

void infd__sched_stop(struct infd_daemon *d)
{
	struct infd_queue *q = &d->queue;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	/* Workers drain what was accepted, then exit. */
	for (uint32_t i = 0; i < d->n_workers; i++)
		pthread_join(d->workers[i], NULL);
	free(d->workers);
	d->workers = NULL;
	d->n_workers = 0;
}
