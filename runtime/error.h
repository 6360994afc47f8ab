/* Error reporting inside the runtime: a status plus a message that says what was
 * wrong and where. Every fallible internal function takes a `struct infd_error *`
 * (may be NULL when the caller only wants the status). */
#ifndef INFD_RUNTIME_ERROR_H
#define INFD_RUNTIME_ERROR_H

#include "infd/status.h"

#define INFD_ERROR_MSG_MAX 2048

struct infd_error {
	infd_status status;
	char msg[INFD_ERROR_MSG_MAX];
};

/* Record `status` and a printf-style message in `err` (if not NULL) and return
 * `status`, so callers can write `return infd__fail(err, INFD_BAD_FORMAT, ...)`. */
infd_status infd__fail(struct infd_error *err, infd_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the message already in `err` with more context ("method 'forward': ").
 * Returns err->status (or `status` when err is NULL). */
infd_status infd__fail_prefix(struct infd_error *err, infd_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reset to OK with an empty message. */
void infd__error_clear(struct infd_error *err);

#endif
