// Shared declarations of the infd Vulkan compute shaders: every dispatch binds
// its parameter block (uints, floats as bit patterns) at binding 0 and up to six
// float tensors at bindings 1..6 of set 0. Large 1-d grids fold into y.
layout(std430, set = 0, binding = 0) readonly buffer Params { uint p[]; };

float pf(uint i) { return uintBitsToFloat(p[i]); }
int pi(uint i) { return int(p[i]); }

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
