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
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	char old[INFD_ERROR_MSG_MAX];
	memcpy(old, err->msg, sizeof old);
	snprintf(err->msg, sizeof err->msg, "%s%s", prefix, old);
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
