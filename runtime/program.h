/* The verified, decoded form of an ExecuTorch program (.pte). The reader checks
 * every offset, index and tag while decoding, so everything reachable from a
 * `struct infd_program` is safe to use without further bounds checks. Constant
 * tensor data, delegate payloads and strings point into the file's bytes (the
 * mapping is kept alive by the program); nothing large is copied. */
#ifndef INFD_RUNTIME_PROGRAM_H
#define INFD_RUNTIME_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infd/dtype.h"

/* Kinds of values in a method's value table (ExecuTorch's KernelTypes tags). */
enum infd_value_kind {
	INFD_VALUE_NULL = 1,
	INFD_VALUE_INT = 2,
	INFD_VALUE_BOOL = 3,
	INFD_VALUE_DOUBLE = 4,
	INFD_VALUE_TENSOR = 5,
	INFD_VALUE_STRING = 6,
	INFD_VALUE_INT_LIST = 7,
	INFD_VALUE_DOUBLE_LIST = 8,
	INFD_VALUE_BOOL_LIST = 9,
	INFD_VALUE_TENSOR_LIST = 10,
	INFD_VALUE_OPT_TENSOR_LIST = 11,
};

/* Kinds of instructions (ExecuTorch's InstructionArguments tags). */
enum infd_instr_kind {
	INFD_INSTR_KERNEL = 1,
	INFD_INSTR_DELEGATE = 2,
	INFD_INSTR_MOVE = 3,
	INFD_INSTR_JUMP_FALSE = 4,
	INFD_INSTR_FREE = 5,
};

enum infd_dynamism { INFD_SHAPE_STATIC = 0, INFD_SHAPE_DYNAMIC_BOUND = 1, INFD_SHAPE_DYNAMIC_UNBOUND = 2 };

/* Where a tensor's bytes come from (pte-format §6.3). */
enum infd_tensor_storage {
	INFD_STORAGE_NONE,     /* supplied at run time (unplanned input/output, delegate-owned) */
	INFD_STORAGE_CONSTANT, /* read-only, points into the program file */
	INFD_STORAGE_PLANNED,  /* in a planned arena; `initial` may hold a starting value */
	INFD_STORAGE_EXTERNAL, /* lives in an external .ptd file (not supported yet) */
};

struct infd_tensor_def {
	int8_t dtype;
	uint8_t rank;
	uint8_t dynamism;
	uint8_t storage;                 /* enum infd_tensor_storage */
	int32_t sizes[INFD_MAX_RANK];    /* upper bounds when dynamic */
	uint8_t dim_order[INFD_MAX_RANK];
	uint64_t numel;
	uint64_t nbytes;
	uint32_t data_buffer_idx;        /* constant / mutable-data index, 0 = none */
	uint32_t memory_id;              /* planned: 1-based arena id */
	uint64_t memory_offset;          /* planned: byte offset inside the arena */
	const uint8_t *data;             /* CONSTANT: the bytes; PLANNED: initial value or NULL */
	const char *fqn;                 /* extra_tensor_info.fully_qualified_name or NULL */
};

struct infd_list_def {
	uint32_t count;
	/* INT_LIST, TENSOR_LIST, OPT_TENSOR_LIST: value indices (-1 = None), checked in range
	 * and pointing at values of the right kind with a smaller index than the list. */
	int32_t *indices;
	double *doubles; /* DOUBLE_LIST */
	bool *bools;     /* BOOL_LIST */
};

struct infd_value_def {
	uint8_t kind; /* enum infd_value_kind */
	union {
		int64_t i;
		bool b;
		double d;
		struct infd_tensor_def *tensor;
		struct {
			const char *ptr; /* NUL-terminated, inside the file */
			uint32_t len;
		} str;
		struct infd_list_def list;
	} u;
};

struct infd_operator_def {
	const char *name;     /* "aten::add" */
	const char *overload; /* "out", or "" */
	char key[128];        /* "aten::add.out" (name.overload, or name alone) */
};

struct infd_compile_spec {
	const char *key;
	const uint8_t *value;
	uint32_t size;
};

struct infd_delegate_def {
	const char *id; /* backend id, e.g. "XnnpackBackend" */
	bool inline_data; /* payload from backend_delegate_data (true) or a segment */
	uint32_t data_index;
	const uint8_t *payload;
	uint64_t payload_size;
	uint32_t n_specs;
	struct infd_compile_spec *specs;
};

struct infd_instr_def {
	uint8_t kind; /* enum infd_instr_kind */
	/* KERNEL: a = op index; DELEGATE: a = delegate index; MOVE: a = from, b = to;
	 * JUMP_FALSE: a = condition value, b = destination instruction; FREE: a = value. */
	int32_t a, b;
	uint32_t n_args;
	int32_t *args; /* KERNEL / DELEGATE: value indices, all in range */
};

struct infd_chain_def {
	uint32_t n_instrs;
	struct infd_instr_def *instrs;
};

struct infd_method_def {
	const char *name;
	const char *encoded_inp_str; /* may be NULL */
	const char *encoded_out_str; /* may be NULL */
	uint32_t n_values;
	struct infd_value_def *values;
	uint32_t n_tensors; /* tensor defs are stored here; values point at them */
	struct infd_tensor_def *tensors;
	uint32_t n_inputs, n_outputs;
	int32_t *inputs, *outputs; /* value indices, in range */
	uint32_t n_operators;
	struct infd_operator_def *operators;
	uint32_t n_delegates;
	struct infd_delegate_def *delegates;
	uint32_t n_chains;
	struct infd_chain_def *chains;
	uint32_t n_buffers;     /* planned arenas: memory_id 1..n_buffers */
	uint64_t *buffer_sizes; /* buffer_sizes[i] = size of memory_id i+1 */
	uint64_t constant_bytes; /* bytes of distinct constant data the method references */
};

struct infd_named_data {
	const char *key;
	const uint8_t *data;
	uint64_t size;
};

struct infd_program {
	const uint8_t *data; /* the whole file */
	size_t size;
	void *map;           /* non-NULL when we own an mmap of the file */
	size_t map_size;
	void *owned;         /* non-NULL when we own a heap copy */
	bool has_ext_header;
	uint32_t ext_header_len;
	uint64_t program_size;        /* flatbuffer bytes (header included) */
	uint64_t segment_base_offset; /* absolute; 0 without segments */
	uint64_t segment_data_size;
	uint32_t n_segments;
	uint32_t n_constants;         /* constant entries including placeholder 0 */
	const uint8_t **constants;    /* constant k start (NULL for 0) */
	uint64_t *constant_avail;     /* bytes available from that start */
	bool constants_legacy;        /* from Program.constant_buffer */
	uint64_t constant_segment_bytes;
	uint32_t n_mutable;           /* mutable-data entries including placeholder 0 */
	const uint8_t **mutable_data;
	uint64_t *mutable_avail;
	uint32_t n_named;
	struct infd_named_data *named;
	uint32_t n_methods;
	struct infd_method_def *methods;
};

/* Decode and verify a program held in `data` (`size` bytes). The bytes must stay
 * valid and unchanged for the life of the program (borrowed). Constant tensors
 * point into them, so `data` must be aligned as the file assumes (16 bytes, as
 * ExecuTorch requires; mapped files and infd__program_open_copy are): a constant
 * that lands misaligned for its element type is refused with a message. On
 * failure returns a status and a message naming what is wrong and where (table,
 * field, index); *out is untouched. */
infd_status infd__program_parse(const uint8_t *data, size_t size, struct infd_program **out,
				struct infd_error *err);

/* Map the file at `path` read-only and parse it. The program owns the mapping. */
infd_status infd__program_open_file(const char *path, struct infd_program **out,
				    struct infd_error *err);

/* Read the file at `path` into memory the program owns and parse it. Unlike a
 * mapping, this copy cannot be pulled away by someone truncating or rewriting
 * the file in place (which makes mapped pages raise SIGBUS): the daemon, which
 * must outlive careless edits of model files, loads programs this way. */
infd_status infd__program_read_file(const char *path, struct infd_program **out, struct infd_error *err);

/* Parse a copy of `data` (the program owns the copy). */
infd_status infd__program_open_copy(const void *data, size_t size, struct infd_program **out,
				    struct infd_error *err);

/* Free everything, unmap the file. NULL does nothing. */
void infd__program_close(struct infd_program *prog);

/* Method by exact name (first match), or NULL. */
const struct infd_method_def *infd__program_method(const struct infd_program *prog, const char *name);

/* Human-readable kind name ("tensor", "int list", ...). */
const char *infd__value_kind_name(int kind);

#endif
