/* The daemon's shared state: one context (struct infd_daemon) owned by the libuv
 * loop thread, the model registry, sessions with their shared-memory arenas, and
 * the scheduler that hands requests to per-device worker threads. */
#ifndef INFD_DAEMON_DAEMON_H
#define INFD_DAEMON_DAEMON_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "protocol/wire.h"
#include "runtime/runtime.h"
#include "stats.h"

struct infd_daemon;
struct infd_session;
struct infd_job;

/* One loaded instance of a program. Shared by every session of the model; freed
 * when the last reference (registry entry or session) goes. */
struct infd_instance {
	atomic_int refs;
	atomic_int *live; /* the daemon's count of live instances */
	struct infd_program *prog;
	uint64_t generation;
	char path[1024];
	struct infd_devices devices;             /* preference list its methods are placed with */
	const char *device_ptrs[INFD_CONFIG_MAX_DEVICES];
	uint32_t n_placement;                    /* backends its methods use, in first-use order */
	char placement[INFD_MAX_BACKENDS][32];
	char **method_placement; /* per method: "xnnpack 0-57, portable 58" (malloc'd) */
};

/* Method options that place methods of `inst` with its preference list. */
void infd__instance_method_options(const struct infd_instance *inst, struct infd_method_options *opt);

enum infd_model_state { INFD_MODEL_READY, INFD_MODEL_UNLOADING };

struct infd_model {
	struct infd_model *next;
	char name[64];
	struct infd_instance *inst; /* current instance */
	enum infd_model_state state;
	atomic_int inflight;        /* accepted requests not finished */
	uint32_t n_sessions;
	struct infd_stats stats;    /* requests, errors, latency */
	struct infd_conn *pending_unload; /* UNLOAD reply sent once the model is idle */
};

/* A request waiting for, or running on, a worker. */
struct infd_job {
	struct infd_job *next;
	struct infd_session *session;
	uint64_t enqueued_ns, deadline_ns, started_ns, finished_ns;
	uint8_t priority;
	bool via_doorbell;
	uint64_t sequence; /* the session's request number, set when done */
	uint32_t doorbell_seq;
	infd_status status;
	char error[512];
	struct infd_conn *conn; /* nng path: where the reply goes */
};

/* A client's session on (model, method): its own loaded method over its own arena. */
struct infd_session {
	struct infd_session *next;
	struct infd_daemon *d;
	uint64_t id;
	uint8_t token[16];
	uid_t uid;
	gid_t gid;
	pid_t pid;
	uint32_t pipe_id;           /* nng pipe that opened it: closes with the client */
	struct infd_model *model;
	struct infd_instance *inst; /* the instance its method was built on */
	char method_name[128];
	struct infd_method *method;
	int memfd;
	uint8_t *arena;
	size_t arena_size;
	struct infd_shm_control *ctrl;
	atomic_bool busy;           /* one request at a time */
	atomic_bool closing;
	atomic_bool migrate_pending; /* rebuild on the new instance once idle */
	bool fd_claimed;
	uint64_t created_ns;
	uint64_t sequence;
	struct infd_stats stats;
	/* doorbell listener */
	pthread_t bell_thread;
	bool bell_running;
	atomic_bool bell_stop;
	uint32_t bell_last;
};

/* One nng context of the listener: receives a request, replies, repeats. */
struct infd_conn {
	struct infd_conn *next_ready; /* loop's queue of received requests */
	struct infd_daemon *d;
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
	bool deferred;                /* reply comes later (RUN, UNLOAD) */
	nng_msg *msg;                 /* received request */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	uint32_t pipe_id;
};

struct infd_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct infd_job *head[4], *tail[4]; /* by priority, 3 = highest */
	uint32_t depth, max_depth;
	uint32_t running, max_running; /* requests executing now, and the worker count */
	bool stopping;
	uint64_t submitted, rejected;
};

struct infd_daemon {
	uv_loop_t loop;
	struct infd_config cfg;
	char config_path[1024]; /* "" when running on the built-in default */
	char cache_dir[1024];   /* resolved pipeline-cache directory, "" = none */
	char socket_path[1024];
	char fd_socket_path[1040];
	uint64_t started_ns;
	bool shutting_down;
	struct infd_runtime *rt;
	/* listener */
	nng_socket sock;
	nng_listener listener;
	uint32_t n_conns;
	struct infd_conn *conns;
	pthread_mutex_t ready_lock;
	struct infd_conn *ready_head, *ready_tail;
	uv_async_t ready_async;
	/* wakes the loop when a finished request may let a model or session go */
	uv_async_t done_async;
	/* client pipes that went away */
	pthread_mutex_t gone_lock;
	uint32_t gone[64];
	uint32_t n_gone;
	bool gone_overflow;
	uv_async_t gone_async;
	/* fd hand-out socket */
	uv_pipe_t fd_server;
	/* models and sessions (loop thread) */
	struct infd_model *models;
	atomic_int live_instances;
	struct infd_session *sessions;
	uint32_t n_sessions;
	uint64_t next_session_id;
	pthread_mutex_t session_lock; /* guards the session list against worker lookups */
	/* scheduler */
	struct infd_queue queue;
	uint32_t n_workers;
	pthread_t *workers;
	/* signals and timers */
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t watchdog_timer, sweep_timer;
	/* nng 1.5.2 (Debian 12) stops accepting for good after a peer disconnects
	 * during the SP handshake (nng issue #1518): a health thread probes the
	 * listener and asks the loop to open a fresh one when it stops answering. */
	pthread_t health_thread;
	bool health_running;
	atomic_bool health_stop;
	uv_async_t revive_async;
	uint32_t listener_revivals;
	uint64_t watchdog_usec;
	int exit_code;
};

uint64_t infd__now_ns(void);

/* server.c */
int infd__daemon_run(const char *config_path, const char *socket_override, bool check_only);
void infd__reply_status(struct infd_conn *c, uint32_t type, infd_status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void infd__reply_json(struct infd_conn *c, uint32_t type, json_t *obj); /* takes obj */
void infd__notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* models.c */
infd_status infd__model_load(struct infd_daemon *d, const char *name, const char *path,
			     const struct infd_devices *devices, struct infd_model **out,
			     struct infd_error *err);
infd_status infd__model_reload(struct infd_daemon *d, struct infd_model *m, struct infd_error *err);
struct infd_model *infd__model_find(struct infd_daemon *d, const char *name);
void infd__model_begin_unload(struct infd_daemon *d, struct infd_model *m);
void infd__model_check_unloads(struct infd_daemon *d);
json_t *infd__model_json(struct infd_daemon *d, const struct infd_model *m, bool methods);
void infd__instance_unref(struct infd_instance *inst);
void infd__models_free(struct infd_daemon *d);

/* sessions.c */
infd_status infd__session_open(struct infd_daemon *d, struct infd_model *m, const char *method,
			       const struct infd_conn *c, struct infd_session **out, struct infd_error *err);
struct infd_session *infd__session_find(struct infd_daemon *d, uint64_t id);
void infd__session_close(struct infd_daemon *d, struct infd_session *s);
void infd__sessions_close_pipe(struct infd_daemon *d, uint32_t pipe_id);
void infd__sessions_sweep(struct infd_daemon *d);
json_t *infd__session_json(const struct infd_session *s, bool layout);
infd_status infd__fd_server_start(struct infd_daemon *d, struct infd_error *err);
void infd__fd_server_stop(struct infd_daemon *d);
/* Rebuild a session's method on its model's current instance (after RELOAD).
 * Called with the session idle. */
void infd__session_migrate(struct infd_session *s);

/* scheduler.c */
infd_status infd__sched_start(struct infd_daemon *d, struct infd_error *err);
void infd__sched_stop(struct infd_daemon *d);
/* Queue a job (takes it). BUSY when the queue is full, SHUTTING_DOWN when stopping. */
infd_status infd__sched_submit(struct infd_daemon *d, struct infd_job *job);
/* Doorbell fast path: when nothing waits and a worker slot is free, run the job
 * right here on the calling (doorbell) thread, taking that slot; else queue it
 * like infd__sched_submit. Takes the job either way on INFD_OK. */
infd_status infd__sched_run_or_submit(struct infd_daemon *d, struct infd_job *job);
uint32_t infd__sched_depth(struct infd_daemon *d);

/* handlers.c */
void infd__handle_request(struct infd_daemon *d, struct infd_conn *c);
/* Send the reply of a finished nng request and free the job. Any thread. */
void infd__handle_job_done(struct infd_daemon *d, struct infd_job *job);
/* The RUN fast path, on the nng thread that received the request: a well-formed
 * RUN on the caller's own idle session goes straight to the scheduler. Returns
 * false (having touched nothing) for everything else, which the loop handles. */
bool infd__handle_run_fast(struct infd_daemon *d, struct infd_conn *c);

#endif
