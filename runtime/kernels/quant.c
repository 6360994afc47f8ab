/* quant kernels: being written. */
#include "util.h"
