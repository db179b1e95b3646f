#pragma once
/// `--device cpu|gpu` of `ncp train` and `ncp search`. The CPU runs in the g++ translation units; the GPU's
/// instantiations (backend::cublas) live in gpu.cu, the program's one CUDA translation unit, compiled only when ncp is
/// built with the cuBLAS backend (NCP_WITH_CUBLAS). Without it, device.cpp defines these functions as errors.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ncp/search/program.hpp"
#include "ncp/train/trainer.hpp"

namespace ncp::cli {

/// Where a subcommand computes.
enum class device { cpu, gpu };

/// The value of `--device`: "cpu" or "gpu"; anything else is a usage error naming the flag.
inline device parse_device(std::string_view value) {
    if (value == "cpu") return device::cpu;
    if (value == "gpu") return device::gpu;
    throw usage_error("--device takes cpu or gpu (got '" + std::string(value) + "')");
}

namespace gpu {

/// Makes device `cuda_device` (the config's CUDA_DEVICE) current; throws ncp::error naming it unless it is usable,
/// or when ncp was built without the backend.
void require_device(int cuda_device);
/// train::train_predictor on the cuBLAS backend.
train::result train_predictor(const io::run_config& cfg, const data::benchmark& b, const train::options& opt);
/// search::run_search on the cuBLAS backend.
search::summary run_search(const io::run_config& cfg, std::vector<search::model_arg> models,
                           const std::vector<std::pair<std::string, double>>& weights,
                           const search::step_progress& progress);

}  // namespace gpu

}  // namespace ncp::cli
