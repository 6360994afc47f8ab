/* Shared between infctl's files: the parsed command line and the helpers every
 * command uses. infctl is built on the public libinfd API only. */
#ifndef INFD_CLIENT_INFCTL_H
#define INFD_CLIENT_INFCTL_H

#include <stdbool.h>
#include <stdint.h>

#include <infd/infd.h>

#define INFCTL_MAX_INPUTS 64

struct infctl_opts {
	const char *socket;
	bool json;
	bool full;
	bool nng;
	const char *method;
	const char *outdir;
	const char *inputs[INFCTL_MAX_INPUTS];
	uint32_t n_inputs;
	long repeat;
	long iterations; /* top: refreshes before exiting (0: until Ctrl-C) */
	long interval_ms;
	uint32_t timeout_ms; /* run timeout (0: none) */
	double rtol, atol;
	int argc; /* positional arguments after the command */
	char **argv;
};

/* Exit codes. */
enum { INFCTL_OK = 0, INFCTL_FAIL = 1, INFCTL_USAGE = 2 };

/* Print "infctl: <what>: <last error or status text>" and return the exit code. */
int infctl_fail(infd_client *c, infd_status st, const char *what);

/* Print a formatted error "infctl: ..." and return INFCTL_FAIL. */
int infctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Connect (with the messages the user should see on failure). */
int infctl_connect(const struct infctl_opts *o, infd_client **out);

/* Print a shape as [2,4]. */
void infctl_shape(char *buf, size_t size, uint32_t rank, const int64_t *shape);

int infctl_cmd_run(const struct infctl_opts *o);
int infctl_cmd_verify(const struct infctl_opts *o);

#endif
