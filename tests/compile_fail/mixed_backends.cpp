// Must NOT compile: one expression mixing variables of two backends. ctest builds it (target
// compile_fail_mixed_backends, outside `all`) and passes when the compiler reports the library's static_assert.
#include "ncp/autograd/ops.hpp"

namespace probe {
/// A second backend: the CPU kernels under another tag, so that everything but the mix compiles.
struct other_backend {};
}  // namespace probe

template <>
struct ncp::detail::kernels<probe::other_backend> : ncp::detail::kernels<ncp::backend::eigen_cpu> {};

int main() {
    ncp::autograd::tape<float> cpu;
    ncp::autograd::tape<float, probe::other_backend> other;
    const ncp::Tensor<float> a = ncp::Tensor<float>::filled(2, 2, 1);
    const ncp::Tensor<float, probe::other_backend> b = ncp::Tensor<float, probe::other_backend>::filled(2, 2, 1);
    const auto x = cpu.input(a);
    const auto y = other.input(b);
    (void)(x + y);
    return 0;
}
