/* Lowering ExecuTorch operators into the XNNPACK backend's graph. */
#ifndef INFD_BACKENDS_XNNPACK_LOWER_H
#define INFD_BACKENDS_XNNPACK_LOWER_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/xnnpack/xgraph.h"
#include "runtime/backend.h"

/* Can KERNEL instruction `in` be lowered, given its operator and the argument
 * values as loaded (dtypes, static shapes, constant operands)? Cheap; called by
 * placement for every instruction. */
bool infd__xlower_supports(const struct infd_method_def *def, const struct infd_evalue *values,
			   const struct infd_instr_def *in);

/* Lower a partition (consecutive KERNEL instructions, each accepted by
 * infd__xlower_supports) into `g`, which must be freshly initialised. On
 * success *ext (malloc'd, freed by the caller) maps each external of the graph
 * to a method value: external k is bound to the tensor data of values[(*ext)[k]].
 * Inputs are the tensors the partition reads before writing them; outputs are
 * the ones it writes that escape it (infd__partition_value_escapes). Layout
 * changes (ExecuTorch's NCHW, XNNPACK's NHWC) are nodes of the graph. */
infd_status infd__xlower_partition(const struct infd_partition_desc *part, struct infd_xgraph *g, int32_t **ext,
				   struct infd_error *err);

#endif
