/* Futex wait/wake on 32-bit words in memory shared between processes (never the
 * private variants: the other side is another process). */
#ifndef INFD_DAEMON_FUTEX_H
#define INFD_DAEMON_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while *word == expected, at most timeout_ns (0: forever). Returns 0 when
 * woken or the value differed, -1 with errno ETIMEDOUT / EINTR otherwise. */
static inline int infd__futex_wait(uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u), .tv_nsec = (long)(timeout_ns % 1000000000u)};
	long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout_ns ? &ts : NULL, NULL, 0);
	if (r == -1 && errno == EAGAIN)
		return 0;
	return (int)r;
}

static inline void infd__futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

#endif
