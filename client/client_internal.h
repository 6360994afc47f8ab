/* Internals of libinfd shared by client.c (connection, control requests, errors)
 * and session.c (arenas, runs). Nothing here is API. */
#ifndef INFD_CLIENT_INTERNAL_H
#define INFD_CLIENT_INTERNAL_H

#include <jansson.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdarg.h>

#include "infd/infd.h"
#include "protocol/wire.h"

#define INFD__ERR_MAX 512

enum {
	INFD__PERM_RUN = 1u << 0,
	INFD__PERM_LOAD = 1u << 1,
	INFD__PERM_ADMIN = 1u << 2,
};

struct infd_client {
	nng_socket sock;
	nng_dialer dialer;
	uint64_t id; /* key of this handle's per-thread error messages */
	char *path;
	char *daemon_version;
	int64_t daemon_pid; /* as seen from this process (peer credentials), or as reported */
	int pipes;          /* live nng connections (pipe notifications) */
	uint32_t perms;
	uint32_t connect_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t load_timeout_ms;
};

/* Record a failure detail for `c` (NULL: the open failure slot) on the calling
 * thread. Returns `st`. */
infd_status infd__client_fail(const infd_client *c, infd_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Map an nng error of a request/reply exchange to a status and a message. */
infd_status infd__nng_status(const infd_client *c, int rv, uint32_t timeout_ms, char *why, size_t why_size);

/* An nng aio whose completion a thread waits for in slices, so that a wait can
 * be abandoned (the aio cancelled) as soon as the daemon is gone. */
struct infd__waiter {
	nng_aio *aio;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

/* Returns an nng error code (0 on success). */
int infd__waiter_init(struct infd__waiter *w);
void infd__waiter_fini(struct infd__waiter *w);

/* Wait for the operation started on w->aio; returns its nng result, with
 * NNG_ECONNRESET when the wait was abandoned because the daemon went away. */
int infd__waiter_wait(const infd_client *c, struct infd__waiter *w);

/* One request/reply exchange on context `ctx` using waiter `w`: send
 * the whole encoded message `msg` (borrowed), wait at most timeout_ms (0: none)
 * for the reply, check its header (magic, version, type == request's). On INFD_OK
 * *reply_out is the reply (caller frees with nng_msg_free) and *h_out its header;
 * the daemon's own status is h_out->status. Otherwise why[] explains. */
infd_status infd__exchange(infd_client *c, nng_ctx ctx, struct infd__waiter *w, const uint8_t *msg, size_t size,
			   uint32_t timeout_ms, nng_msg **reply_out, struct infd_msg_header *h_out, char *why,
			   size_t why_size);

/* A JSON control request on a fresh context: `req` borrowed (NULL: {}). Returns
 * a transport status (why[] explains) or the daemon's status; in the latter case
 * *body_out holds the decoded reply body (new reference; NULL when it had none)
 * and, when the status is a failure, why[] holds the daemon's "error" text. */
infd_status infd__request(infd_client *c, uint32_t type, const json_t *req, uint32_t timeout_ms, json_t **body_out,
			  char *why, size_t why_size);

/* Whether the daemon process is known to have exited (its pid is gone). */
bool infd__daemon_gone(const infd_client *c);

/* Format into a fixed buffer, never overflowing. */
void infd__fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
