// Must NOT compile: the cuBLAS backend's header in a program that does not link ncp::cublas. ctest builds it (target
// compile_fail_cublas_without_target, outside `all`) and passes when the compiler prints the header's #error, which
// names the target to link.
#include "ncp/backend/cublas.hpp"

int main() { return 0; }
