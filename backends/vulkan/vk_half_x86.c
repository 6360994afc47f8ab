/* float32 <-> binary16 conversion with x86 F16C (eight values per instruction,
 * round to nearest even), used when the CPU and OS support it; otherwise the
 * portable loops. Compiled for x86 only (see meson.build). */
#include <cpuid.h>
#include <immintrin.h>

#include "vk_half.h"

__attribute__((target("avx,f16c"))) static void f32_to_f16_f16c(uint16_t *dst, const float *src, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128(
		    (__m128i *)(void *)(dst + i),
		    _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	infd__vk_f32_to_f16_portable(dst + i, src + i, n - i);
}

__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(float *dst, const uint16_t *src, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
	infd__vk_f16_to_f32_portable(dst + i, src + i, n - i);
}

void infd__vk_half_pick(struct infd_vk_half_kernels *out)
{
	unsigned a, b, c, d;
	/* avx: the OS saves the vector state VEX instructions use; F16C: CPUID.1:ECX[29] */
	if (__builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C)) {
		out->to_f16 = f32_to_f16_f16c;
		out->to_f32 = f16_to_f32_f16c;
		out->name = "f16c";
		return;
	}
	out->to_f16 = infd__vk_f32_to_f16_portable;
	out->to_f32 = infd__vk_f16_to_f32_portable;
	out->name = "portable";
}
