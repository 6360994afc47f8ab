/* Conversion variant choice on CPUs without a faster one than the portable
 * float32 <-> binary16 loops. */
#include "vk_half.h"

void infd__vk_half_pick(struct infd_vk_half_kernels *out)
{
	out->to_f16 = infd__vk_f32_to_f16_portable;
	out->to_f32 = infd__vk_f16_to_f32_portable;
	out->name = "portable";
}
