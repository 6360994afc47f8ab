/* Status strings (generated from the one list in include/infd/status.h) and the
 * runtime's error-message helpers. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *infd_strerror(infd_status status)
{
	switch (status) {
#define INFD_STATUS_TEXT_(name, value, text)                                       \
	case INFD_##name:                                                              \
		return text;
		INFD_STATUS_LIST(INFD_STATUS_TEXT_)
#undef INFD_STATUS_TEXT_
	}
	return "unknown status";
}

const char *infd_status_name(infd_status status)
{
	switch (status) {
#define INFD_STATUS_NAME_(name, value, text)                                       \
	case INFD_##name:                                                              \
		return #name;
		INFD_STATUS_LIST(INFD_STATUS_NAME_)
#undef INFD_STATUS_NAME_
	}
	return "UNKNOWN";
}

infd_status infd__fail(struct infd_error *err, infd_status status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->status = status;
	}
	return status;
}

infd_status infd__fail_prefix(struct infd_error *err, infd_status status, const char *fmt, ...)
{
	if (!err)
		return status;
	char prefix[INFD_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	size_t plen = n < 0 ? 0 : (size_t)n < sizeof prefix ? (size_t)n : sizeof prefix - 1;
	size_t olen = strlen(err->msg);
	if (plen + olen >= sizeof err->msg)
		olen = sizeof err->msg - 1 - plen;
	memmove(err->msg + plen, err->msg, olen);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + olen] = '\0';
	if (err->status == INFD_OK)
		err->status = status;
	return err->status;
}

void infd__error_clear(struct infd_error *err)
{
	if (err) {
		err->status = INFD_OK;
		err->msg[0] = '\0';
	}
}
