/* Decoding `XnnpackBackend` delegate payloads (pte-format.md section 8). */
#ifndef INFD_BACKENDS_XNNPACK_PAYLOAD_H
#define INFD_BACKENDS_XNNPACK_PAYLOAD_H

#include <stdint.h>

#include "backends/xnnpack/xgraph.h"
#include "runtime/program.h"

/* Verify and decode a payload into `g` (freshly initialised). External k of the
 * graph is argument k of the DelegateCall (inputs first, then outputs), with the
 * ExecuTorch tensor's own shape; constants named by key come from `prog`'s
 * named data. Constants the graph needs are copied or referenced from `prog`,
 * which must outlive the graph. Every offset, count and id is checked; errors
 * name the table, field and index. */
infd_status infd__xpayload_decode(const struct infd_program *prog, const uint8_t *payload, uint64_t size,
				  struct infd_xgraph *g, struct infd_error *err);

#endif
