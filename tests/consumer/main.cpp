#include <iostream>

#include <ncp/ncp.hpp>

int main() {
    std::cout << "ncp " << ncp::version << "\n";
    return 0;
}
