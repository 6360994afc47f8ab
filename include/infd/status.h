/* infd status codes: one list, written once, shared by the runtime, the daemon,
 * the client library and the wire protocol. Codes are only ever appended; the
 * numbers travel on the wire and must never be renumbered. */
#ifndef INFD_STATUS_H
#define INFD_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, description) */
#define INFD_STATUS_LIST(X)                                                        \
	X(OK, 0, "success")                                                            \
	X(INVALID_ARGUMENT, 1, "invalid argument")                                     \
	X(NO_MEMORY, 2, "out of memory")                                               \
	X(IO, 3, "input/output error")                                                 \
	X(BAD_FORMAT, 4, "malformed program file")                                     \
	X(UNSUPPORTED, 5, "unsupported feature")                                       \
	X(NOT_FOUND, 6, "not found")                                                   \
	X(MISSING_OPERATOR, 7, "operator or delegate not available")                   \
	X(BAD_INPUT, 8, "input does not match the method (dtype, shape or kind)")      \
	X(KERNEL_FAILED, 9, "kernel failed")                                           \
	X(MISMATCH, 10, "outputs differ from the expected values")                     \
	X(INTERNAL, 11, "internal error")                                              \
	X(UNKNOWN_MODEL, 12, "unknown model")                                          \
	X(BUSY, 13, "busy, try again later")                                           \
	X(DEADLINE_EXCEEDED, 14, "deadline exceeded")                                  \
	X(SHUTTING_DOWN, 15, "shutting down")                                          \
	X(PERMISSION_DENIED, 16, "not permitted")                                      \
	X(PROTOCOL, 17, "malformed protocol message")                                  \
	X(VERSION_MISMATCH, 18, "protocol version mismatch")                           \
	X(NOT_CONNECTED, 19, "daemon not reachable")                                   \
	X(TIMEOUT, 20, "timed out")                                                    \
	X(BAD_CONFIG, 21, "invalid configuration")

typedef enum infd_status {
#define INFD_STATUS_ENUM_(name, value, text) INFD_##name = value,
	INFD_STATUS_LIST(INFD_STATUS_ENUM_)
#undef INFD_STATUS_ENUM_
} infd_status;

/* Human-readable description of a status ("out of memory"). Never NULL; unknown
 * codes give "unknown status". The string is static. Any thread, never blocks. */
const char *infd_strerror(infd_status status);

/* Symbolic name of a status without the prefix ("NO_MEMORY"). Never NULL. */
const char *infd_status_name(infd_status status);

#ifdef __cplusplus
}
#endif
#endif
