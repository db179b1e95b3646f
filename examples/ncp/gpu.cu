/// The `ncp` program's GPU work (device.hpp): training and search instantiated on the cuBLAS backend. The program's
/// only CUDA translation unit; built only with NCP_WITH_CUBLAS.

#include "ncp/backend/cublas.hpp"

#include "device.hpp"

namespace ncp::cli::gpu {

void require_device() {
    try {
        backend::require_cuda_device();
    } catch (const error& e) {
        throw error(std::string("--device gpu: ") + e.what());
    }
}

train::result train_predictor(const io::run_config& cfg, const data::benchmark& b, const train::options& opt) {
    require_device();
    return train::train_predictor<backend::cublas>(cfg, b, opt);
}

search::summary run_search(const io::run_config& cfg, std::vector<search::model_arg> models,
                           const std::vector<std::pair<std::string, double>>& weights) {
    require_device();
    return search::run_search<float, backend::cublas>(cfg, std::move(models), weights);
}

}  // namespace ncp::cli::gpu
