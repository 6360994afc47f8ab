/* Element types of tensors, numbered exactly as ExecuTorch's ScalarType so the
 * values read from program files and sent on the wire need no translation. */
#ifndef INFD_DTYPE_H
#define INFD_DTYPE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, element bytes, short name) — gaps in the numbering are values the
 * format reserves (complex types, bit types) that infd does not support. */
#define INFD_DTYPE_LIST(X)                                                         \
	X(UINT8, 0, 1, "uint8")                                                        \
	X(INT8, 1, 1, "int8")                                                          \
	X(INT16, 2, 2, "int16")                                                        \
	X(INT32, 3, 4, "int32")                                                        \
	X(INT64, 4, 8, "int64")                                                        \
	X(FLOAT16, 5, 2, "float16")                                                    \
	X(FLOAT32, 6, 4, "float32")                                                    \
	X(FLOAT64, 7, 8, "float64")                                                    \
	X(BOOL, 11, 1, "bool")                                                         \
	X(QINT8, 12, 1, "qint8")                                                       \
	X(QUINT8, 13, 1, "quint8")                                                     \
	X(QINT32, 14, 4, "qint32")                                                     \
	X(BFLOAT16, 15, 2, "bfloat16")                                                 \
	X(QUINT4X2, 16, 1, "quint4x2")                                                 \
	X(QUINT2X4, 17, 1, "quint2x4")                                                 \
	X(BITS16, 22, 2, "bits16")                                                     \
	X(FLOAT8E5M2, 23, 1, "float8e5m2")                                             \
	X(FLOAT8E4M3FN, 24, 1, "float8e4m3fn")                                         \
	X(FLOAT8E5M2FNUZ, 25, 1, "float8e5m2fnuz")                                     \
	X(FLOAT8E4M3FNUZ, 26, 1, "float8e4m3fnuz")                                     \
	X(UINT16, 27, 2, "uint16")                                                     \
	X(UINT32, 28, 4, "uint32")                                                     \
	X(UINT64, 29, 8, "uint64")

typedef enum infd_dtype {
#define INFD_DTYPE_ENUM_(name, value, size, text) INFD_DTYPE_##name = value,
	INFD_DTYPE_LIST(INFD_DTYPE_ENUM_)
#undef INFD_DTYPE_ENUM_
} infd_dtype;

/* Largest tensor rank the format allows. */
#define INFD_MAX_RANK 16

/* True when `value` is a dtype infd knows (a value of the list above). */
bool infd_dtype_valid(int value);

/* Bytes per element, or 0 for an unknown dtype. */
size_t infd_dtype_size(int value);

/* Short lowercase name ("float32"), or "invalid" for an unknown dtype. */
const char *infd_dtype_name(int value);

/* Parse a short name back ("float32", also "f32"/"float"/"int"/...); returns -1
 * when the name is unknown. */
int infd_dtype_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
