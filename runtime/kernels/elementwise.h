/* The elementwise kernel family's internals, shared by unary.c and elementwise.c: loop
 * dtypes, the typed row-loop generators (unary, binary, ternary), dtype tables, and the
 * driver (elementwise.c) that broadcasts, promotes and runs a loop over tensors. */
#ifndef INFD_RUNTIME_KERNELS_ELEMENTWISE_H
#define INFD_RUNTIME_KERNELS_ELEMENTWISE_H

#include "util.h"

/* Loop helpers are inlined even into the AVX2 clones of their callers (a helper
 * left out of line would be compiled for the baseline target only). */
#define EW_INLINE static inline __attribute__((always_inline))

/* Dtypes the typed loops run in; float16/bfloat16 compute in float32. */
enum ctype { CT_BOOL, CT_U8, CT_I8, CT_I16, CT_I32, CT_I64, CT_F32, CT_F64, N_CT };

/* One value in a loop dtype: a scalar operand, or a typed constant. */
union cval {
	uint8_t u8;
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64;
	float f32;
	double f64;
};

/* Per-call constants of an op, and a flag the integer divisions raise. */
struct eparams {
	union cval al; /* alpha of rsub, in the loop dtype */
	float f[3];    /* op constants for float32 loops ... */
	double d[3];   /* ... and the same for float64 loops */
	int zero_div;  /* an integer division met a zero divisor */
};

/* Typed row loop: out[i] = f(a[i], b[i], c[i]) over n elements, strides in bytes
 * (0 = the same element throughout). Unary loops ignore b and c, binary ones c. */
#define EW_ARGS                                                                            \
	size_t n, char *o_, ptrdiff_t so, const char *a_, ptrdiff_t sa, const char *b_,    \
		ptrdiff_t sb, const char *c_, ptrdiff_t sc, struct eparams *p
typedef void (*efn)(EW_ARGS);

#define EL(T, base, i, s) (*(T *)(void *)((base) + (ptrdiff_t)(i) * (s)))
#define CEL(T, base, i, s) (*(const T *)(const void *)((base) + (ptrdiff_t)(i) * (s)))

/* The loop macros give unit-stride (and, for binary and ternary ops, stride-0)
 * shapes their own functions with restrict pointers so that they vectorize; any
 * other stride takes a plain loop. PRE declares the op's constants, EXPR computes
 * one result from x (and y, and c). Out may be the same memory as an input,
 * element for element. */
#define UNARY(NAME, TA, TO, PRE, EXPR)                                                     \
	EW_INLINE void NAME##_c(size_t n, TO *restrict o, const TA *restrict a,      \
				    struct eparams *p)                                     \
	{                                                                                  \
		PRE;                                                                       \
		INFD_VLOOP(n, i, const TA x = a[i]; o[i] = (TO)(EXPR););                   \
	}                                                                                  \
	INFD_SIMD_CLONES static void NAME(EW_ARGS)                                         \
	{                                                                                  \
		if (so == (ptrdiff_t)sizeof(TO) && sa == (ptrdiff_t)sizeof(TA)) {        \
			NAME##_c(n, (TO *)(void *)o_, (const TA *)(const void *)a_, p);    \
			return;                                                            \
		}                                                                          \
		PRE;                                                                       \
		for (size_t i = 0; i < n; i++) {                                           \
			const TA x = CEL(TA, a_, i, sa);                                   \
			EL(TO, o_, i, so) = (TO)(EXPR);                                    \
		}                                                                          \
	}

#define BINARY(NAME, TA, TO, PRE, EXPR)                                                    \
	EW_INLINE void NAME##_vv(size_t n, TO *restrict o, const TA *restrict a,     \
				     const TA *restrict b, struct eparams *p)              \
	{                                                                                  \
		PRE;                                                                       \
		INFD_VLOOP(n, i, const TA x = a[i]; const TA y = b[i]; o[i] = (TO)(EXPR);); \
	}                                                                                  \
	EW_INLINE void NAME##_vs(size_t n, TO *restrict o, const TA *restrict a,     \
				     const TA y, struct eparams *p)                        \
	{                                                                                  \
		PRE;                                                                       \
		INFD_VLOOP(n, i, const TA x = a[i]; o[i] = (TO)(EXPR););                   \
	}                                                                                  \
	EW_INLINE void NAME##_sv(size_t n, TO *restrict o, const TA x,               \
				     const TA *restrict b, struct eparams *p)              \
	{                                                                                  \
		PRE;                                                                       \
		INFD_VLOOP(n, i, const TA y = b[i]; o[i] = (TO)(EXPR););                   \
	}                                                                                  \
	INFD_SIMD_CLONES static void NAME(EW_ARGS)                                         \
	{                                                                                  \
		const ptrdiff_t ea = (ptrdiff_t)sizeof(TA), eo = (ptrdiff_t)sizeof(TO);   \
		TO *o = (TO *)(void *)o_;                                                  \
		const TA *a = (const TA *)(const void *)a_, *b = (const TA *)(const void *)b_; \
		if (so == eo && sa == ea && sb == ea) {                                    \
			NAME##_vv(n, o, a, b, p);                                          \
		} else if (so == eo && sa == ea && sb == 0) {                              \
			NAME##_vs(n, o, a, b[0], p);                                       \
		} else if (so == eo && sa == 0 && sb == ea) {                              \
			NAME##_sv(n, o, a[0], b, p);                                       \
		} else {                                                                   \
			PRE;                                                               \
			for (size_t i = 0; i < n; i++) {                                   \
				const TA x = CEL(TA, a_, i, sa);                           \
				const TA y = CEL(TA, b_, i, sb);                           \
				EL(TO, o_, i, so) = (TO)(EXPR);                            \
			}                                                                  \
		}                                                                          \
	}

/* c (TC) selects or bounds x and y (TA). */
#define TERNARY(NAME, TC, TA, TO, PRE, EXPR)                                               \
	EW_INLINE void NAME##_g(size_t n, TO *restrict o, const TC *restrict cp,     \
				    ptrdiff_t kc, const TA *restrict xp, ptrdiff_t kx,     \
				    const TA *restrict yp, ptrdiff_t ky, struct eparams *p) \
	{                                                                                  \
		PRE;                                                                       \
		INFD_VLOOP(n, i, const TC c = cp[i * kc]; const TA x = xp[i * kx];         \
			   const TA y = yp[i * ky]; o[i] = (TO)(EXPR););                   \
	}                                                                                  \
	INFD_SIMD_CLONES static void NAME(EW_ARGS)                                         \
	{                                                                                  \
		const ptrdiff_t ec = (ptrdiff_t)sizeof(TC), ea = (ptrdiff_t)sizeof(TA);   \
		TO *o = (TO *)(void *)o_;                                                  \
		const TC *cp = (const TC *)(const void *)a_;                               \
		const TA *xp = (const TA *)(const void *)b_, *yp = (const TA *)(const void *)c_; \
		if (so == (ptrdiff_t)sizeof(TO) && (sa == ec || sa == 0) &&                \
		    (sb == ea || sb == 0) && (sc == ea || sc == 0)) {                      \
			/* unit or zero strides: constant index steps the compiler can      \
			 * specialise on */                                                 \
			if (sa && sb && sc)                                                \
				NAME##_g(n, o, cp, 1, xp, 1, yp, 1, p);                    \
			else if (sa && !sb && sc)                                          \
				NAME##_g(n, o, cp, 1, xp, 0, yp, 1, p);                    \
			else if (sa && sb && !sc)                                          \
				NAME##_g(n, o, cp, 1, xp, 1, yp, 0, p);                    \
			else if (sa && !sb && !sc)                                         \
				NAME##_g(n, o, cp, 1, xp, 0, yp, 0, p);                    \
			else                                                               \
				NAME##_g(n, o, cp, sa ? 1 : 0, xp, sb ? 1 : 0, yp, sc ? 1 : 0, p); \
			return;                                                            \
		}                                                                          \
		PRE;                                                                       \
		for (size_t i = 0; i < n; i++) {                                           \
			const TC c = CEL(TC, a_, i, sa);                                   \
			const TA x = CEL(TA, b_, i, sb), y = CEL(TA, c_, i, sc);           \
			EL(TO, o_, i, so) = (TO)(EXPR);                                    \
		}                                                                          \
	}

/* ---- Loop dtypes and tables ----------------------------------------------------- */

/* X(suffix, type, unsigned type, union cval field) */
#define SINT_TYPES(X)                                                                      \
	X(i8, int8_t, uint8_t, i8)                                                         \
	X(i16, int16_t, uint16_t, i16)                                                     \
	X(i32, int32_t, uint32_t, i32)                                                     \
	X(i64, int64_t, uint64_t, i64)
#define INT_TYPES(X) X(u8, uint8_t, uint8_t, u8) SINT_TYPES(X)
#define FLOAT_TYPES(X) X(f32, float, float, f32) X(f64, double, double, f64)
#define NUM_TYPES(X) INT_TYPES(X) FLOAT_TYPES(X)
#define BINT_TYPES(X) X(b, uint8_t, uint8_t, u8) INT_TYPES(X)
#define ALL_TYPES(X) BINT_TYPES(X) FLOAT_TYPES(X)

/* Tables of loops by ctype; NULL entries are dtypes the op refuses. */
#define T_FLOAT(N) {[CT_F32] = N##_f32, [CT_F64] = N##_f64}
#define T_INT(N) {[CT_U8] = N##_u8, [CT_I8] = N##_i8, [CT_I16] = N##_i16, [CT_I32] = N##_i32, [CT_I64] = N##_i64}
#define T_NUM(N)                                                                           \
	{[CT_U8] = N##_u8, [CT_I8] = N##_i8, [CT_I16] = N##_i16, [CT_I32] = N##_i32,       \
	 [CT_I64] = N##_i64, [CT_F32] = N##_f32, [CT_F64] = N##_f64}
#define T_ALL(N)                                                                           \
	{[CT_BOOL] = N##_b, [CT_U8] = N##_u8, [CT_I8] = N##_i8, [CT_I16] = N##_i16,        \
	 [CT_I32] = N##_i32, [CT_I64] = N##_i64, [CT_F32] = N##_f32, [CT_F64] = N##_f64}

/* ---- The driver (elementwise.c) ------------------------------------------------- */

/* An input of the loop: a tensor, or a scalar already in the loop dtype. */
struct operand {
	const struct infd_tensor *t; /* NULL: the scalar s */
	union cval s;
	int cdt; /* dtype the loop reads */
	int pdt; /* dtype values round through first: cdt, or float16/bfloat16 */
};

/* A tensor operand read in the loop dtype of promoted dtype pdt. */
static inline struct operand infd__ew_tensor_operand(const struct infd_tensor *t, int pdt)
{
	return (struct operand){.t = t, .cdt = infd__compute_dtype(pdt), .pdt = pdt};
}

/* Broadcast the tensor operands, resize out, and run fn over every element (out
 * written in dtype ocdt, rounded through opdt; the n_in operands read in their
 * cdt): one flat call when every operand already matches out element for element,
 * else row by row through the strided iterator, converting blocks where an operand
 * or out is in another dtype or misaligned. */
infd_status infd__ew_launch(const struct infd_kargs *A, efn fn, struct infd_tensor *out, int ocdt,
			    int opdt, const struct operand *ops, uint32_t n_in, struct eparams *prm);

/* `what` (a name in messages) has a dtype the loops handle: bool, integers up to
 * int64 (uint8 the only unsigned one), float16, bfloat16, float32, float64. */
infd_status infd__ew_check_dtype(const struct infd_kargs *A, const char *what, int dtype);

/* A result of dtype rdt may be written into out (dtype odt). */
infd_status infd__ew_check_out(const struct infd_kargs *A, int rdt, int odt);

/* The loop for dtype cdt from an op's table, or a failure naming dtype `shown`. */
infd_status infd__ew_pick(const struct infd_kargs *A, const efn *table, int cdt, int shown,
			  efn *fn);

/* A `str` or `str?` argument at i: the text at *s, *len bytes long; *s = NULL
 * for None (when optional). */
infd_status infd__ew_karg_str(const struct infd_kargs *A, uint32_t i, const char *name,
			      bool optional, const char **s, uint32_t *len);

/* The string (s, len) is `want`. */
bool infd__ew_str_is(const char *s, uint32_t len, const char *want);

/* ---- Unary ops (unary.c) ------------------------------------------------------ */

/* A unary op: its loops by ctype and the dtype rule it follows. */
struct uop;

/* Run a unary op on x into out (dtype checks, result dtype, launch). */
infd_status infd__ew_unary_run(const struct infd_kargs *A, const struct uop *op,
			       const struct infd_tensor *x, struct infd_tensor *out,
			       struct eparams *prm);

/* The unary op pow.Tensor_Scalar_out runs for a floating self and an exponent v
 * that ATen special-cases (2, 3, 0.5, -0.5, -1, -2), or NULL for any other v. */
const struct uop *infd__ew_pow_uop(double v);

#endif
