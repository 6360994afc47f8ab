/* elementwise kernels: being written. */
#include "util.h"
