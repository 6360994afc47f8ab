/* Tests of the quant kernels: being written. */
#include <criterion/criterion.h>
