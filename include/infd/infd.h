/* libinfd: the client library of the infd inference daemon. Connect to the
 * daemon, manage models, open sessions whose input and output tensors live in
 * shared memory, and run them — in place, without copies.
 *
 * Conventions (see each prototype for the details):
 *   - Actions return infd_status (INFD_OK == 0); results come back through
 *     trailing *_out parameters, which are left untouched or set to NULL/0 on
 *     failure. A failed call leaves a detail message in the handle's last error.
 *   - Handles are opaque and allocated by the library; *_close(NULL) does nothing.
 *   - Strings returned through `char **` are malloc'd copies owned by the caller,
 *     to be released with infd_free().
 *   - "Blocks" means the call waits for the daemon (bounded by the client's
 *     request timeout, see infd_client_options) or for the network.
 *
 * Minimal use:
 *
 *     infd_client *c;  infd_session *s;  infd_tensor_view in, out;
 *     if (infd_client_open(NULL, &c)) { fprintf(stderr, "%s\n", infd_client_last_error(NULL)); ... }
 *     if (infd_session_open(c, "mnist", "forward", &s)) { ... infd_client_last_error(c) ... }
 *     infd_session_input(s, 0, &in);   memcpy(in.data, pixels, in.nbytes);
 *     if (infd_session_run(s, 1000) == INFD_OK) { infd_session_output(s, 0, &out); ... }
 *     infd_session_close(s);  infd_client_close(c);
 */
#ifndef INFD_INFD_H
#define INFD_INFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infd/dtype.h>
#include <infd/status.h>
#include <infd/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Library ------------------------------------------------------------------ */

/* The library version, "MAJOR.MINOR.PATCH" (INFD_VERSION_STRING of the library
 * actually loaded, which may be newer than the header). Static string; any
 * thread; never blocks. */
const char *infd_version(void);

/* Release a string or buffer the library returned through a `char **` out
 * parameter. NULL does nothing. Any thread; never blocks. */
void infd_free(void *p);

/* Resolve the daemon's control socket path the way infd_client_open does:
 *   1. `socket_path` when not NULL (and not empty);
 *   2. else $INFD_SOCKET when set and not empty;
 *   3. else $XDG_RUNTIME_DIR/infd/infd.sock when XDG_RUNTIME_DIR is set and that
 *      socket exists;
 *   4. else /run/infd/infd.sock (the system daemon).
 * `socket_path` is borrowed. *path_out receives a malloc'd copy (infd_free it).
 * Returns INFD_INVALID_ARGUMENT when path_out is NULL or the path is too long for
 * a Unix socket, INFD_NO_MEMORY. Reads the environment: do not call concurrently
 * with setenv(). Never blocks. */
infd_status infd_socket_path(const char *socket_path, char **path_out);

/* ---- Client: one connection to the daemon --------------------------------------- */

typedef struct infd_client infd_client;

/* Settings for infd_client_open_ex. Always start from infd_client_options_default()
 * so that fields added later get their defaults. */
typedef struct infd_client_options {
	const char *socket_path;     /* NULL: resolved as infd_socket_path() does; borrowed */
	const char *client_name;     /* sent in HELLO, shown in the daemon's stats; NULL: the
					program name; borrowed */
	uint32_t connect_timeout_ms; /* connecting and the HELLO exchange (default 2000) */
	uint32_t request_timeout_ms; /* every control request (default 10000; 0: none) */
	uint32_t load_timeout_ms;    /* LOAD and RELOAD, which pack weights (default 120000; 0: none) */
} infd_client_options;

/* Default settings. Any thread; never blocks. */
infd_client_options infd_client_options_default(void);

/* Connect to the daemon: resolve the socket path (see infd_socket_path), dial
 * nng req0 over ipc://PATH, exchange HELLO and check the protocol version.
 * `socket_path` is borrowed (only used during the call). On success *out is a
 * new handle (release it with infd_client_close); on failure *out is NULL and
 * infd_client_last_error(NULL) explains, e.g.
 *   INFD_NOT_CONNECTED    "cannot reach the infd daemon at PATH: is it running? (connection refused)"
 *   INFD_PERMISSION_DENIED the socket exists but this user may not connect to it
 *   INFD_VERSION_MISMATCH the daemon speaks another protocol version
 * Blocks up to the connect timeout (2 s). Any thread. */
infd_status infd_client_open(const char *socket_path, infd_client **out);

/* As infd_client_open, with settings (`opts` borrowed; NULL: the defaults). */
infd_status infd_client_open_ex(const infd_client_options *opts, infd_client **out);

/* Close the connection and free the handle. NULL does nothing. Every session
 * opened on the client must be closed first (sessions borrow their client); no
 * other thread may be using the client. Blocks briefly while nng shuts down. */
void infd_client_close(infd_client *client);

/* Detail message of the last failed call on `client` made by the calling thread
 * ("" when there is none). The message is per thread and per handle, so threads
 * sharing a client do not see each other's errors; a thread keeps the messages of
 * its last few handles. With client == NULL: the last infd_client_open(_ex)
 * failure of the calling thread. The string is owned by the library and valid
 * until the calling thread's next call on that handle. Never NULL; never blocks. */
const char *infd_client_last_error(const infd_client *client);

/* The socket path this client connected to (owned by the client, valid until it
 * is closed). Any thread; never blocks. */
const char *infd_client_socket_path(const infd_client *client);

/* What the daemon said in HELLO: its version string (owned by the client, valid
 * until close), its pid, and whether this connection may run / load / administer
 * (the daemon still checks every request). Any thread; never blocks. */
const char *infd_client_daemon_version(const infd_client *client);
int64_t infd_client_daemon_pid(const infd_client *client);
bool infd_client_has_permission(const infd_client *client, const char *permission /* "run", "load", "admin" */);

/* Thread rules for every call taking an infd_client below: the client may be used
 * from several threads at once; each request uses its own nng context, so
 * concurrent requests do not wait for each other. All of them block until the
 * daemon answers or the request timeout passes (INFD_TIMEOUT). */

/* ---- Models ------------------------------------------------------------------- */

/* One loaded model, as listed by the daemon. The strings point into the listing
 * they came from and live as long as it. */
typedef struct infd_model_info {
	const char *name;
	const char *path;  /* the .pte file the daemon loaded */
	const char *state; /* "ready" or "unloading" */
	uint64_t file_bytes;
	uint64_t constant_bytes;
	uint64_t sessions;   /* open sessions */
	uint64_t requests;   /* requests served */
	uint64_t errors;     /* requests failed */
	uint64_t generation; /* incremented by every (re)load */
} infd_model_info;

typedef struct infd_model_list infd_model_list;

/* LIST_MODELS: a snapshot of the loaded models. *out is a new listing (release it
 * with infd_model_list_free). Blocks. */
infd_status infd_list_models(infd_client *client, infd_model_list **out);

/* Number of models in a listing (0 for NULL). Never blocks. */
size_t infd_model_count(const infd_model_list *list);

/* Model i of a listing (borrowed strings, see infd_model_info); INFD_INVALID_ARGUMENT
 * when i is out of range. Never blocks. */
infd_status infd_model_info_at(const infd_model_list *list, size_t i, infd_model_info *out);

/* Release a listing; NULL does nothing. */
void infd_model_list_free(infd_model_list *list);

/* The same listing as the daemon's JSON text ({"models": [...]}, see PROTOCOL.md).
 * *json_out is malloc'd (infd_free). Blocks. */
infd_status infd_list_models_json(infd_client *client, char **json_out);

/* MODEL_INFO: one model with its methods, inputs and outputs, as JSON text
 * (infd_free). INFD_UNKNOWN_MODEL when no model has that name. Blocks. */
infd_status infd_model_info_json(infd_client *client, const char *model, char **json_out);

/* LOAD: load the program file `path` under `name` (both borrowed). A relative
 * path is prefixed with the caller's working directory first (the daemon runs
 * elsewhere); the daemon opens the file, so it must be able to read it, at that
 * path as the daemon sees the filesystem ("builtin:NAME" names a program built
 * into the daemon). Needs the "load" permission. Blocks until the model is
 * ready (load timeout). */
infd_status infd_load(infd_client *client, const char *name, const char *path);

/* UNLOAD: forget a model once its running requests finished; open sessions of it
 * fail from then on. Needs "load". Blocks. */
infd_status infd_unload(infd_client *client, const char *name);

/* RELOAD: load the model's file again (after it was replaced on disk). Needs
 * "load". Blocks (load timeout). */
infd_status infd_reload(infd_client *client, const char *name);

/* ---- Daemon state and configuration (JSON text, infd_free) ----------------------- */

/* STATUS: daemon version, pid, uptime, socket, config source, counts, devices. */
infd_status infd_status_json(infd_client *client, char **json_out);

/* STATS for every model (model == NULL) or one model: requests, latencies, queues,
 * sessions. */
infd_status infd_stats_json(infd_client *client, const char *model, char **json_out);

/* CONFIG_GET: {"config": {...}, "source": "..."}. Needs "admin". */
infd_status infd_config_json(infd_client *client, char **json_out);

/* CONFIG_CHECK: ask the daemon to validate config `text` (JSON, borrowed) without
 * applying it. INFD_OK when valid; INFD_BAD_CONFIG when not, with the daemon's
 * explanation (line and field) in *error_out (malloc'd, infd_free; may be NULL
 * when the caller does not want it; set to NULL on success). Needs "admin". */
infd_status infd_config_check(infd_client *client, const char *text, char **error_out);

/* Advanced: send any control request. `type` is a message name ("STATS",
 * case-insensitive) or its number ("10"); `body_json` is the request body (NULL or
 * "" for {}). On INFD_OK *reply_json_out is the reply body (infd_free). When the
 * daemon answers with a failure status that status is returned, and the reply
 * body ({"error": ...}) is still handed back in *reply_json_out. RUN (binary) is
 * refused: use a session. Blocks (load timeout for LOAD/RELOAD). */
infd_status infd_request_json(infd_client *client, const char *type, const char *body_json, char **reply_json_out);

/* ---- Sessions: one method of one model, with tensors in shared memory ------------- */

typedef struct infd_session infd_session;

/* A tensor inside a session's shared arena. `data` points into memory shared with
 * the daemon: write inputs there before a run, read outputs there after it. Valid
 * until the session is closed. Shapes are the method's planned (static) shapes. */
typedef struct infd_tensor_view {
	void *data;
	int dtype; /* an infd_dtype */
	uint32_t rank;
	int64_t shape[INFD_MAX_RANK];
	size_t nbytes;
} infd_tensor_view;

/* How a run reaches the daemon. */
typedef enum infd_transport {
	INFD_TRANSPORT_AUTO = 0,     /* the doorbell while the daemon listens on it, else nng;
					INFD_NO_DOORBELL=1 in the environment forces nng */
	INFD_TRANSPORT_NNG = 1,      /* a RUN message over the control socket (always works) */
	INFD_TRANSPORT_DOORBELL = 2, /* the futex doorbell in shared memory only (fastest);
					runs fail with INFD_UNSUPPORTED while the daemon does
					not listen on it */
} infd_transport;

/* Timings of the last completed run, as the daemon measured them. */
typedef struct infd_run_info {
	uint64_t exec_ns;         /* executing */
	uint64_t queue_ns;        /* waiting for a worker */
	uint64_t sequence;        /* the session's request number */
	infd_transport transport; /* the transport the run used (NNG or DOORBELL) */
} infd_run_info;

/* OPEN_SESSION: open `method` (NULL: "forward") of `model` (both borrowed), map the
 * session's shared arena (handed over as a file descriptor) and check it. *out is
 * a new session; close it with infd_session_close before closing the client,
 * which the session borrows. INFD_UNKNOWN_MODEL / INFD_NOT_FOUND (method) /
 * INFD_PERMISSION_DENIED as the daemon says. Any thread; blocks. */
infd_status infd_session_open(infd_client *client, const char *model, const char *method, infd_session **out);

/* CLOSE_SESSION, unmap the arena and free the handle; every tensor view of the
 * session becomes invalid. NULL does nothing. An async run still in flight is
 * waited for first. Blocks briefly. */
void infd_session_close(infd_session *session);

/* Thread rules for every call taking an infd_session: one thread at a time per
 * session (different sessions, even of one client, may be used concurrently). */

/* Detail message of the session's last failure ("" when none). Owned by the
 * session, valid until its next call. Never NULL; never blocks. */
const char *infd_session_last_error(const infd_session *session);

/* Number of tensor inputs / outputs of the method. Never blocks. */
uint32_t infd_session_input_count(const infd_session *session);
uint32_t infd_session_output_count(const infd_session *session);

/* View of input / output i in the shared arena. INFD_INVALID_ARGUMENT when i is
 * out of range. Never blocks. */
infd_status infd_session_input(const infd_session *session, uint32_t i, infd_tensor_view *out);
infd_status infd_session_output(const infd_session *session, uint32_t i, infd_tensor_view *out);

/* Choose how runs reach the daemon (default INFD_TRANSPORT_AUTO). Never blocks. */
infd_status infd_session_set_transport(infd_session *session, infd_transport transport);

/* The transport the next synchronous run would use right now (NNG or DOORBELL). */
infd_transport infd_session_transport(const infd_session *session);

/* Scheduling priority of the session's requests, 0 (lowest, default) .. 3. */
infd_status infd_session_set_priority(infd_session *session, uint32_t priority);

/* Run the method once on the inputs currently in the arena; on INFD_OK the outputs
 * are in place. timeout_ms (0: none) bounds the wait: the daemon drops a request
 * still queued at its deadline (INFD_DEADLINE_EXCEEDED) and the call gives up
 * waiting after it (INFD_TIMEOUT; the request may still be executing, and the
 * next run answers INFD_BUSY until it has finished). Other statuses are the
 * daemon's (INFD_BUSY, INFD_UNKNOWN_MODEL after an unload, INFD_KERNEL_FAILED...)
 * or INFD_NOT_CONNECTED when the daemon went away or restarted (a session does
 * not survive its daemon: open a new one). Blocks; a daemon that dies is noticed
 * within about 100 ms even without a timeout. */
infd_status infd_session_run(infd_session *session, uint32_t timeout_ms);

/* Completion callback of infd_session_run_async. Called exactly once, on an nng
 * thread (never the caller's), with the run's status. It must return quickly and
 * must not call back into this session (no run, wait or close); signalling
 * another thread is the intended use. */
typedef void (*infd_done_fn)(void *user_data, infd_status status);

/* Start a run without waiting (always over nng, whatever the transport setting).
 * `done` may be NULL; `user_data` is passed through untouched. While it is in
 * flight the session may not be used except for infd_session_wait (and close,
 * which waits). INFD_BUSY when a run is already in flight. Never blocks. */
infd_status infd_session_run_async(infd_session *session, uint32_t timeout_ms, infd_done_fn done, void *user_data);

/* Wait for the async run in flight (if any) to complete, callback included, and
 * return its status, once (INFD_OK when there was none; the detail is in
 * infd_session_last_error). Blocks; gives up with INFD_NOT_CONNECTED when the
 * daemon goes away. Must not be called from the completion callback. */
infd_status infd_session_wait(infd_session *session);

/* Timings of the last completed run. INFD_NOT_FOUND before the first run. */
infd_status infd_session_run_info(const infd_session *session, infd_run_info *out);

/* The model and method names, the daemon's session id and the arena size.
 * Strings owned by the session. Never block. */
const char *infd_session_model(const infd_session *session);
const char *infd_session_method(const infd_session *session);
uint64_t infd_session_id(const infd_session *session);
size_t infd_session_arena_bytes(const infd_session *session);

#ifdef __cplusplus
}
#endif
#endif
