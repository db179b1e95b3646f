#include <iostream>
#include <vector>

#include <ncp/ncp.hpp>

// Uses the installed headers end to end: a Tensor, a parameter, a tiny recorded computation and its gradient.
int main() {
    using namespace ncp::autograd;
    parameter<double> w(ncp::Tensor<double>::from_host(std::vector<double>{1, 2, 3}, 1, 3));
    const auto x = ncp::Tensor<double>::from_host(std::vector<double>{4, 5, 6}, 1, 3);
    tape<double> t;
    const var<double> loss = sum(t.leaf(w) * t.input(x));  // 1*4 + 2*5 + 3*6 = 32
    t.backward(loss);                                      // d loss / d w = x
    if (loss.value()[0] != 32 || w.grad.to_host() != x.to_host()) {
        std::cerr << "consumer: unexpected result\n";
        return 1;
    }
    std::cout << "ncp " << ncp::version << ": loss " << loss.value()[0] << "\n";
    return 0;
}
