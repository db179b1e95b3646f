// Must NOT compile: the ONNX export's header in a program that does not link ncp::onnx. ctest builds it (target
// compile_fail_onnx_without_target, outside `all`) and passes when the compiler prints the header's #error, which
// names the target to link.
#include "ncp/export/onnx.hpp"

int main() { return 0; }
