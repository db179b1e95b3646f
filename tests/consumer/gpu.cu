#include <iostream>
#include <vector>

#include <ncp/backend/cublas.hpp>
#include <ncp/tensor/tensor.hpp>

// Builds against the installed ncp::cublas component (CUDA Toolkit found through ncp's package config); with a GPU it
// also sends values to the device and back.
int main() {
    const ncp::backend::cuda_devices devices = ncp::backend::probe_cuda_devices();
    if (devices.count == 0) {
        std::cout << "consumer_gpu: built with ncp::cublas; not run on a device (" << devices.problem << ")\n";
        return 0;
    }
    const std::vector<float> values = {1, 2, 3};
    const auto t = ncp::Tensor<float, ncp::backend::cublas>::from_host(values);
    if (t.clone().to_host() != values) {
        std::cerr << "consumer_gpu: unexpected result\n";
        return 1;
    }
    std::cout << "consumer_gpu: values went to the device and back\n";
    return 0;
}
