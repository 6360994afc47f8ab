/* The wire format between libinfd and the daemon, shared by both sides. Every
 * message is one nng message: a 16-byte header, then a body. Control bodies are
 * JSON objects (decoded with jansson, checked field by field); the per-request
 * RUN body is a small fixed binary record. Replies carry an infd_status in the
 * header and, on failure, {"error": "..."} as body. */
#ifndef INFD_PROTOCOL_WIRE_H
#define INFD_PROTOCOL_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "infd/status.h"

#define INFD_PROTO_MAGIC 0x44464e49u /* "INFD" as little-endian bytes */
#define INFD_PROTO_VERSION 1
#define INFD_PROTO_HEADER_SIZE 16
#define INFD_PROTO_MAX_MESSAGE (1u << 20) /* larger messages are refused */

/* X(NAME, value) — the values travel on the wire: append only. */
#define INFD_MSG_LIST(X)                                                                           \
	X(HELLO, 1)                                                                                \
	X(LIST_MODELS, 2)                                                                          \
	X(MODEL_INFO, 3)                                                                           \
	X(LOAD, 4)                                                                                 \
	X(UNLOAD, 5)                                                                               \
	X(RELOAD, 6)                                                                               \
	X(OPEN_SESSION, 7)                                                                         \
	X(CLOSE_SESSION, 8)                                                                        \
	X(RUN, 9)                                                                                  \
	X(STATS, 10)                                                                               \
	X(CONFIG_GET, 11)                                                                          \
	X(CONFIG_CHECK, 12)                                                                        \
	X(STATUS, 13)

enum infd_msg_type {
#define INFD_MSG_ENUM_(name, value) INFD_MSG_##name = value,
	INFD_MSG_LIST(INFD_MSG_ENUM_)
#undef INFD_MSG_ENUM_
};

/* "OPEN_SESSION", or NULL for an unknown type. */
const char *infd__msg_name(uint32_t type);

struct infd_msg_header {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t status; /* replies: an infd_status; requests: 0 */
	uint32_t length; /* body bytes that follow the header */
};

/* Write a header for a body of `length` bytes into buf[0..16). */
void infd__proto_put_header(uint8_t *buf, uint32_t type, uint32_t status, uint32_t length);

/* Check and decode the header of a `size`-byte message: magic, version, a known
 * type, length consistent with size and below the maximum. On failure returns
 * INFD_PROTOCOL (or INFD_VERSION_MISMATCH) and explains in why[]. */
infd_status infd__proto_get_header(const uint8_t *msg, size_t size, struct infd_msg_header *h, char *why,
				   size_t why_size);

/* RUN request body (little-endian, 16 bytes). */
struct infd_run_request {
	uint64_t session;
	uint32_t timeout_ms; /* 0: no deadline */
	uint8_t priority;    /* 0 (lowest) .. 3 */
	uint8_t flags;
	uint16_t reserved;
};
#define INFD_RUN_REQUEST_SIZE 16

/* RUN reply body (little-endian, 24 bytes). */
struct infd_run_reply {
	uint64_t exec_ns;  /* time spent executing */
	uint64_t queue_ns; /* time spent waiting for a worker */
	uint64_t sequence; /* per-session request number */
};
#define INFD_RUN_REPLY_SIZE 24

void infd__proto_put_run_request(uint8_t *buf, const struct infd_run_request *r);
infd_status infd__proto_get_run_request(const uint8_t *body, size_t size, struct infd_run_request *r, char *why,
					size_t why_size);
void infd__proto_put_run_reply(uint8_t *buf, const struct infd_run_reply *r);
infd_status infd__proto_get_run_reply(const uint8_t *body, size_t size, struct infd_run_reply *r);

/* Decode a JSON body: must be one object, at most INFD_PROTO_MAX_MESSAGE bytes,
 * no duplicate keys. Returns a new reference or NULL with why[] filled. */
json_t *infd__proto_get_json(const uint8_t *body, size_t size, char *why, size_t why_size);

/* Typed field access on a decoded object. Missing or mistyped required fields
 * fail with INFD_PROTOCOL and why[] naming the field. */
infd_status infd__proto_str(const json_t *obj, const char *key, bool required, const char **out, char *why,
			    size_t why_size);
infd_status infd__proto_int(const json_t *obj, const char *key, bool required, int64_t lo, int64_t hi,
			    int64_t *out, char *why, size_t why_size);

/* Encode a whole message (header + compact JSON body, or an empty body when obj
 * is NULL) into a malloc'd buffer. Returns NULL when out of memory or too large. */
uint8_t *infd__proto_encode_json(uint32_t type, uint32_t status, const json_t *obj, size_t *size);

/* Shared-memory control block at the start of every session arena: the futex
 * doorbell (pte-format-independent). The client owns `req_seq`, the daemon owns
 * `done_seq` and `status`; both sides treat everything here as untrusted input. */
#define INFD_SHM_MAGIC 0x4d485349u /* "ISHM" */
#define INFD_SHM_VERSION 1
#define INFD_SHM_CONTROL_SIZE 4096

struct infd_shm_control {
	uint32_t magic;
	uint32_t version;
	uint32_t req_seq;       /* futex word: client increments to ring the doorbell */
	uint32_t done_seq;      /* futex word: daemon sets it to req_seq when done */
	uint32_t status;        /* infd_status of the request done_seq names */
	uint32_t timeout_ms;    /* for the next request (0: none) */
	uint32_t priority;      /* for the next request */
	uint32_t doorbell;      /* 1 while the daemon listens on req_seq */
	uint64_t exec_ns;
	uint64_t queue_ns;
	uint32_t client_waiting; /* client sets before sleeping on done_seq */
	uint32_t reserved[3];
};

#endif
