/// The `ncp` program's GPU work (device.hpp): training and search instantiated on the cuBLAS backend. The program's
/// only CUDA translation unit; built only with NCP_WITH_CUBLAS.

#include "ncp/backend/cublas.hpp"

#include "device.hpp"

namespace ncp::cli::gpu {

void require_device(int cuda_device) {
    try {
        backend::select_cuda_device(cuda_device);
    } catch (const error& e) {
        throw error(std::string("--device gpu (CUDA_DEVICE ") + std::to_string(cuda_device) + "): " + e.what());
    }
}

train::result train_predictor(const io::run_config& cfg, const data::benchmark& b, const train::options& opt) {
    require_device(cfg.cuda_device);
    return train::train_predictor<backend::cublas>(cfg, b, opt);
}

search::summary run_search(const io::run_config& cfg, std::vector<search::model_arg> models,
                           const std::vector<std::pair<std::string, double>>& weights,
                           const search::step_progress& progress) {
    require_device(cfg.cuda_device);
    return search::run_search<float, backend::cublas>(cfg, std::move(models), weights, 1, progress);
}

}  // namespace ncp::cli::gpu
