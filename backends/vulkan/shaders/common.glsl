// Shared declarations of the infd Vulkan compute shaders: every dispatch binds
// its parameter block (48 uints, floats as bit patterns) as a uniform buffer at
// binding 0, so that parameter reads are uniform loads, and up to six tensors
// as storage buffers at bindings 1..6 of set 0. Large 1-d grids fold into y.
#extension GL_EXT_control_flow_attributes : enable
layout(std140, set = 0, binding = 0) uniform Params { uvec4 p4[12]; };

uint pu(uint i) { return p4[i >> 2u][i & 3u]; }
float pf(uint i) { return uintBitsToFloat(pu(i)); }
int pi(uint i) { return int(pu(i)); }

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
