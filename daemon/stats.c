/* Request counters and log-bucketed latency histograms (see stats.h). */
#include "stats.h"

#include <math.h>
#include <string.h>

void infd__stats_init(struct infd_stats *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
}

void infd__stats_destroy(struct infd_stats *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Bucket b covers [2^(b/8), 2^((b+1)/8)) microseconds. */
static uint32_t bucket_of(uint64_t ns)
{
	double us = (double)ns / 1000.0;
	if (us < 1.0)
		return 0;
	uint32_t b = (uint32_t)(log2(us) * 8.0);
	return b < INFD_STATS_BUCKETS ? b : INFD_STATS_BUCKETS - 1;
}

void infd__stats_record(struct infd_stats *s, uint64_t ns, int ok)
{
	pthread_mutex_lock(&s->lock);
	s->requests++;
	if (!ok)
		s->errors++;
	s->total_ns += ns;
	if (ns > s->max_ns)
		s->max_ns = ns;
	s->buckets[bucket_of(ns)]++;
	pthread_mutex_unlock(&s->lock);
}

void infd__stats_count_busy(struct infd_stats *s)
{
	pthread_mutex_lock(&s->lock);
	s->busy++;
	pthread_mutex_unlock(&s->lock);
}

static double percentile(const struct infd_stats *s, double p)
{
	uint64_t n = 0;
	for (uint32_t b = 0; b < INFD_STATS_BUCKETS; b++)
		n += s->buckets[b];
	if (n == 0)
		return 0;
	uint64_t want = (uint64_t)ceil(p * (double)n), seen = 0;
	for (uint32_t b = 0; b < INFD_STATS_BUCKETS; b++) {
		seen += s->buckets[b];
		if (seen >= want && s->buckets[b]) {
			double mid = exp2(((double)b + 0.5) / 8.0); /* bucket middle, µs */
			double max = (double)s->max_ns / 1000.0;
			return mid < max ? mid : max;
		}
	}
	return (double)s->max_ns / 1000.0;
}

json_t *infd__stats_json(struct infd_stats *s)
{
	pthread_mutex_lock(&s->lock);
	json_t *o = json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f}", "requests", (json_int_t)s->requests,
			      "errors", (json_int_t)s->errors, "busy", (json_int_t)s->busy, "mean_us",
			      s->requests ? (double)s->total_ns / (double)s->requests / 1000.0 : 0.0, "p50_us",
			      percentile(s, 0.50), "p90_us", percentile(s, 0.90), "p99_us", percentile(s, 0.99),
			      "max_us", (double)s->max_ns / 1000.0);
	pthread_mutex_unlock(&s->lock);
	return o;
}
