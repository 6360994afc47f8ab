/* Portable float32 <-> binary16 conversion loops for the Vulkan backend's fp16
 * storage: round to nearest even, overflow to infinity, subnormal halves both
 * ways, NaN made quiet with its sign and top payload bits (as x86 F16C does). */
#include <string.h>

#include "vk_half.h"

static uint16_t f32_to_f16(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof x);
	uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
	if (ax >= 0x7f800000u) /* inf, NaN */
		return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
	if (ax >= 0x477ff000u) /* 65520 and up round past 65504 */
		return (uint16_t)(sign | 0x7c00u);
	if (ax >= 0x38800000u) { /* a normal half: rebias the exponent, round 13 bits away */
		uint32_t m = ax - (112u << 23);
		return (uint16_t)(sign | ((m + 0xfffu + ((m >> 13) & 1u)) >> 13));
	}
	if (ax < 0x33000000u) /* below 2^-25: rounds to zero */
		return (uint16_t)sign;
	/* a subnormal half: k * 2^-24 (k may round up to the smallest normal) */
	uint32_t e = ax >> 23, mant = (ax & 0x7fffffu) | 0x800000u, shift = 126u - e;
	uint32_t k = mant >> shift, rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
	k += rem > halfway || (rem == halfway && (k & 1u));
	return (uint16_t)(sign | k);
}

static float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
	if (e == 0x1fu) {
		x = sign | 0x7f800000u | (m ? 0x400000u | (m << 13) : 0u);
	} else if (e) {
		x = sign | ((e + 112u) << 23) | (m << 13);
	} else {
		float v = (float)m * 0x1p-24f; /* exact */
		memcpy(&x, &v, sizeof x);
		x |= sign;
	}
	float f;
	memcpy(&f, &x, sizeof f);
	return f;
}

void infd__vk_f32_to_f16_portable(uint16_t *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = f32_to_f16(src[i]);
}

void infd__vk_f16_to_f32_portable(float *dst, const uint16_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = f16_to_f32(src[i]);
}
