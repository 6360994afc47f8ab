/* The in-process engine: a runtime (kernel registry + backends) loads methods of
 * programs and executes them. This is what the daemon's workers and the `infd-pte`
 * tool use. One loaded method is not thread-safe; different methods are. */
#ifndef INFD_RUNTIME_RUNTIME_H
#define INFD_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "kernel.h"
#include "lane.h"
#include "program.h"
#include "value.h"

#define INFD_MAX_BACKENDS 8

struct infd_runtime_options {
	uint32_t n_threads; /* threads kernels may use (one pool for the runtime); 0 = 1 */
};

void infd__runtime_options_default(struct infd_runtime_options *opt);

struct infd_runtime {
	struct infd_runtime_options opt;
	void *threadpool; /* pthreadpool_t with opt.n_threads threads; NULL when 1 */
	struct infd_kernel_registry *registry;
	uint32_t n_backends;
	struct infd_backend backends[INFD_MAX_BACKENDS]; /* in preference order; portable CPU last */
	char kinds[INFD_MAX_BACKENDS][16];            /* device kind of each backend ("cpu", "gpu", "npu") */
	struct infd_lane *lanes[INFD_MAX_BACKENDS];   /* worker of backends with own_lane, else NULL */
};

infd_status infd__runtime_create(const struct infd_runtime_options *opt, struct infd_runtime **out,
				 struct infd_error *err);
void infd__runtime_destroy(struct infd_runtime *rt);

/* Add a backend ahead of the ones already present (taken: destroyed with the
 * runtime; a backend with own_lane gets its worker thread here). Fails when
 * INFD_MAX_BACKENDS are present or the thread cannot start. */
infd_status infd__runtime_add_backend(struct infd_runtime *rt, struct infd_backend be);

/* Does preference-list entry `device` (a backend name or a device kind) name
 * backend `b` of the runtime? */
bool infd__runtime_backend_is(const struct infd_runtime *rt, uint32_t b, const char *device);

struct infd_method_options {
	/* Planned arenas supplied by the caller (e.g. shared memory); NULL to let the
	 * method allocate them. When given, there must be one per planned buffer, each
	 * at least the planned size and 16-byte aligned. Borrowed: must outlive the
	 * method. */
	void *const *buffers;
	const uint64_t *buffer_sizes;
	uint32_t n_buffers;
	/* Device preference list: backend names ("xnnpack", "vulkan", a plugin's
	 * name) or device kinds ("npu", "gpu", "cpu"), most preferred first. Each
	 * instruction goes to the first listed backend that supports it; the
	 * portable CPU kernels ("portable") are always the last resort. NULL: every
	 * backend of the runtime, in the runtime's order. Borrowed during load. */
	const char *const *devices;
	uint32_t n_devices;
};

/* One step of the executor: a prepared partition on a backend, covering
 * instructions [first, first + count) of a chain. */
struct infd_step {
	uint32_t chain, first, count;
	uint32_t backend; /* index into runtime backends */
	void *prepared;
};

struct infd_method {
	const struct infd_runtime *rt;
	const struct infd_program *prog;
	const struct infd_method_def *def;
	struct infd_evalue *values;
	struct infd_tensor *tensors;
	struct infd_evalue **list_items; /* storage for list items */
	uint32_t n_arenas;
	uint8_t **arenas;
	uint64_t *arena_sizes;
	bool owns_arenas;
	uint32_t n_steps;
	struct infd_step *steps;
	int32_t **step_at; /* step_at[chain][instr] = step index starting there, or -1 */
	uint32_t n_order;
	uint32_t order[INFD_MAX_BACKENDS]; /* backends this method may use, most preferred first */
	bool *input_set;
	uint64_t instructions_executed;
	/* Why steps did not land where placement first put them ("backend 'xnnpack'
	 * refused instructions 3..5 (reason); they run on 'portable'"), one line each,
	 * or NULL. Shown by infd-pte inspect and logged by the daemon. */
	char *fallback_notes;
};

/* Load method `name` of `prog` (borrowed: must outlive the method): build its
 * value table, lay out planned tensors in arenas, resolve every operator and
 * delegate on the runtime's backends. A program that needs operators or delegates
 * nobody provides is refused with INFD_MISSING_OPERATOR and a message listing
 * every missing one. */
/* (Several threads may load methods on one runtime at once: loading only reads
 * the runtime, and backends guard the caches they share between instances.) */
infd_status infd__method_load(struct infd_runtime *rt, const struct infd_program *prog, const char *name,
			      const struct infd_method_options *opt, struct infd_method **out,
			      struct infd_error *err);
void infd__method_free(struct infd_method *m);

/* Bind input `i` from `src`: a tensor input copies src's bytes into its planned
 * region (or adopts src->data when unplanned; then the data is borrowed until the
 * next bind); dtype must match and the shape may change only within a dynamic
 * bound. Scalar inputs must equal the value baked into the program. */
infd_status infd__method_set_input(struct infd_method *m, uint32_t i, const struct infd_evalue *src,
				   struct infd_error *err);

/* Convenience: bind a tensor input from raw bytes with the given shape. */
infd_status infd__method_set_input_tensor(struct infd_method *m, uint32_t i, int dtype, uint32_t rank,
					  const int32_t *sizes, const void *data, uint64_t nbytes,
					  struct infd_error *err);

/* Shared-memory sessions: make every input ready in place. Planned tensor inputs
 * are read where they are (the caller writes them into the arena); unplanned
 * tensors (inputs and outputs) get a buffer from `bind_unplanned` (called with
 * the value index and byte size; return NULL to refuse); scalar inputs take the
 * value baked into the program. */
typedef void *(*infd_bind_fn)(void *ud, int32_t value, uint64_t nbytes);
infd_status infd__method_bind_in_place(struct infd_method *m, infd_bind_fn bind_unplanned, void *ud,
				       struct infd_error *err);

/* Run the method once. All inputs must have been bound. */
infd_status infd__method_execute(struct infd_method *m, struct infd_error *err);

/* Input / output values (owned by the method; valid until it is freed). */
struct infd_evalue *infd__method_input(struct infd_method *m, uint32_t i);
struct infd_evalue *infd__method_output(struct infd_method *m, uint32_t i);
uint32_t infd__method_n_inputs(const struct infd_method *m);
uint32_t infd__method_n_outputs(const struct infd_method *m);

/* Name of the backend that runs instruction `instr` of chain `chain`, or NULL for
 * instructions the executor runs itself (moves, jumps, frees). */
const char *infd__method_placement(const struct infd_method *m, uint32_t chain, uint32_t instr);

#endif
