/* Host conversions between float32 and IEEE 754 binary16 for the Vulkan
 * backend's fp16 storage: a portable C version (round to nearest even; inf, NaN
 * and subnormals kept) and, where the CPU has them, faster variants chosen once
 * when a backend is created. No Vulkan types, so tests use it directly. */
#ifndef INFD_BACKENDS_VULKAN_VK_HALF_H
#define INFD_BACKENDS_VULKAN_VK_HALF_H

#include <stddef.h>
#include <stdint.h>

typedef void (*infd_vk_f32_to_f16_fn)(uint16_t *dst, const float *src, size_t n);
typedef void (*infd_vk_f16_to_f32_fn)(float *dst, const uint16_t *src, size_t n);

/* One pair of conversion loops and the name of the variant ("portable",
 * "f16c"). dst and src must not overlap; any alignment; any thread. */
struct infd_vk_half_kernels {
	infd_vk_f32_to_f16_fn to_f16;
	infd_vk_f16_to_f32_fn to_f32;
	const char *name;
};

/* The plain C loops (vk_half.c). NaN keeps its sign and the top payload bits
 * and becomes quiet, as x86 F16C does, so every variant gives the same bits. */
void infd__vk_f32_to_f16_portable(uint16_t *dst, const float *src, size_t n);
void infd__vk_f16_to_f32_portable(float *dst, const uint16_t *src, size_t n);

/* The fastest variant this CPU runs (vk_half_x86.c, or vk_half_generic.c on
 * other machines: the portable loops). Checks the CPU at each call; call it
 * once at start-up and keep the result. */
void infd__vk_half_pick(struct infd_vk_half_kernels *out);

#endif
