/* Device lanes: one worker thread and one FIFO per device that wants them (a GPU,
 * an NPU). The executor hands such a device's partitions to its lane and waits,
 * so requests on different threads reach the device in order, one at a time,
 * while their CPU partitions go on in parallel on the callers' threads. */
#ifndef INFD_RUNTIME_LANE_H
#define INFD_RUNTIME_LANE_H

#include <stdint.h>

#include "backend.h"

struct infd_lane;

struct infd_lane_stats {
	uint64_t runs;     /* partitions run */
	uint64_t busy_ns;  /* time spent running them */
	uint32_t queued;   /* waiting now (not counting the one running) */
	uint32_t max_queued;
};

/* Start a lane running partitions of backend `be` (its ops and context must
 * outlive the lane). */
infd_status infd__lane_start(struct infd_backend be, struct infd_lane **out, struct infd_error *err);

/* Run a prepared partition on the lane and wait for it; the backend's error
 * lands in `err`. Safe from any number of threads. */
infd_status infd__lane_run(struct infd_lane *l, void *prepared, struct infd_error *err);

void infd__lane_stats(struct infd_lane *l, struct infd_lane_stats *out);

/* Finish queued work, then stop the thread. */
void infd__lane_stop(struct infd_lane *l);

#endif
