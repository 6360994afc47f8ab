/* Request statistics: counts and a latency histogram good enough for p50/p90/p99
 * (log-spaced buckets, 8 per power of two, from 1 µs to ~1 hour). Thread-safe:
 * workers record, the loop thread reads. */
#ifndef INFD_DAEMON_STATS_H
#define INFD_DAEMON_STATS_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#define INFD_STATS_BUCKETS (8 * 32)

struct infd_stats {
	pthread_mutex_t lock;
	uint64_t requests, errors, busy, deadline_missed;
	uint64_t total_ns;
	uint64_t max_ns;
	uint64_t buckets[INFD_STATS_BUCKETS];
};

void infd__stats_init(struct infd_stats *s);
void infd__stats_destroy(struct infd_stats *s);
/* One finished request: `ns` from acceptance to completion; ok = succeeded. */
void infd__stats_record(struct infd_stats *s, uint64_t ns, int ok);
void infd__stats_count_busy(struct infd_stats *s);
/* {"requests", "errors", "busy", "mean_us", "p50_us", "p90_us", "p99_us", "max_us"} */
json_t *infd__stats_json(struct infd_stats *s);

#endif
