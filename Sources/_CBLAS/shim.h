// The CBLAS interface of OpenBLAS (Debian: libopenblas-dev), used for the CPU path's matrix products.
#include <cblas.h>
