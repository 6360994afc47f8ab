// Shared declarations of the infd Vulkan compute shaders: every dispatch binds
// its parameter block (48 uints, floats as bit patterns) as a uniform buffer at
// binding 0, so that parameter reads are uniform loads, and up to six tensors
// as storage buffers at bindings 1..6 of set 0. Large 1-d grids fold into y.
#extension GL_EXT_control_flow_attributes : enable
layout(std140, set = 0, binding = 0) uniform Params { uvec4 p4[12]; };

uint pu(uint i) { return p4[i >> 2u][i & 3u]; }
float pf(uint i) { return uintBitsToFloat(pu(i)); }
int pi(uint i) { return int(pu(i)); }

// Float tensors are declared with TENSOR_RO / TENSOR_WO / TENSOR_RW(binding,
// block name, array name) and accessed through ld_<array>(i) and
// st_<array>(i, value), always as fp32 values. Built plainly, they are float
// arrays. Built with -DINFD_FP16 (for devices with storageBuffer16BitAccess),
// each binding is declared twice, as float and as float16_t (two views of one
// descriptor), and bit b of parameter word P_HALF says that the tensor at
// binding b is stored as 16-bit floats: activations are, constants (weights)
// stay fp32. Only loads and stores touch 16-bit values; arithmetic is fp32.
#define P_HALF 47u
#ifdef INFD_FP16
#extension GL_EXT_shader_16bit_storage : require
bool half_at(uint binding) { return (pu(P_HALF) & (1u << binding)) != 0u; }
#define TENSOR_(q, b, N, v) \
	layout(std430, set = 0, binding = b) q buffer N { float v[]; }; \
	layout(std430, set = 0, binding = b) q buffer N##H { float16_t v##_h[]; };
#define LOAD_(b, v) \
	float ld_##v(uint i) { return half_at(b) ? float(v##_h[i]) : v[i]; } \
	float ld_##v(int i) { return ld_##v(uint(i)); }
#define STORE_(b, v) \
	void st_##v(uint i, float x) { if (half_at(b)) v##_h[i] = float16_t(x); else v[i] = x; } \
	void st_##v(int i, float x) { st_##v(uint(i), x); }
#else
#define TENSOR_(q, b, N, v) layout(std430, set = 0, binding = b) q buffer N { float v[]; };
#define LOAD_(b, v) \
	float ld_##v(uint i) { return v[i]; } \
	float ld_##v(int i) { return v[i]; }
#define STORE_(b, v) \
	void st_##v(uint i, float x) { v[i] = x; } \
	void st_##v(int i, float x) { v[i] = x; }
#endif
#define TENSOR_RO(b, N, v) TENSOR_(readonly, b, N, v) LOAD_(b, v)
#define TENSOR_WO(b, N, v) TENSOR_(writeonly, b, N, v) STORE_(b, v)

// Linear invocation index of a 1-d grid folded into (x, y).
uint flat_id(uint local_size)
{
	return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * local_size;
}

// Linear workgroup index of a grid folded into (x, y).
uint flat_group()
{
	return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}
