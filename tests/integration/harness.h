/* Integration-test harness: start the real infd binary on a temporary socket,
 * wait until it listens, stop it and check how it exited; programs for the
 * daemon built with the project's writer. */
#ifndef INFD_TESTS_HARNESS_H
#define INFD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon_proc {
	pid_t pid;
	char dir[256];     /* temporary directory (socket, config, log, models) */
	char socket[320];
	char log[320];
	char config[320];  /* "" when started on the built-in default */
};

/* Start build/daemon/infd with `config_text` written to DIR/infd.json (NULL: no
 * config, the built-in default). Extra environment "NAME=VALUE" may be given
 * (NULL-terminated, may be NULL). Waits up to 10 s for the socket; fails the test
 * otherwise, showing the log. */
void daemon_start(struct daemon_proc *dp, const char *config_text, const char *const *extra_env);

/* SIGTERM and wait; returns the exit status (or 128+signal). */
int daemon_stop(struct daemon_proc *dp);

/* The daemon's log so far (static buffer). */
const char *daemon_log(const struct daemon_proc *dp);

/* Number of session arenas (memfds named infd-session) the daemon holds open. */
int daemon_memfd_count(pid_t pid);

/* Resident set size of a process in KiB. */
long proc_rss_kib(pid_t pid);

/* Write a program computing y = x * scale + bias on float32[n] (scale/bias
 * constants of n floats filled with `scale` and `bias`), method "forward". */
void write_affine_program(const char *path, int n, float scale, float bias);

/* A slow program: `steps` chained adds over float32[n] (method "forward"). */
void write_slow_program(const char *path, int n, int steps);

/* Path of a file in the daemon's temporary directory (static, rotating). */
const char *daemon_path(const struct daemon_proc *dp, const char *name);

#endif

/* Start build/tests/integration/client_proc with args (argv[0] is filled in);
 * *to_child / *from_child receive pipe ends for its stdin / stdout (may be NULL).
 * `as_nobody` runs it as user nobody through setpriv. Returns the pid. */
pid_t client_spawn(const char *const *args, int *to_child, int *from_child, int as_nobody);

/* Copy client_proc and libinfd into `dir` (world-readable), so that another user
 * can run them even when the build tree is private (e.g. under /root); later
 * client_spawn calls use that copy. */
void client_proc_copy_to(const char *dir);

/* Wait for a child; returns its exit status (128+signal when killed). */
int child_wait(pid_t pid);
