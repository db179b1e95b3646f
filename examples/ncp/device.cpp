/// The GPU entry points of device.hpp where ncp is built without the cuBLAS backend: each one is the error saying
/// so (with the backend, gpu.cu defines them).

#include "device.hpp"

#ifndef NCP_WITH_CUBLAS

namespace ncp::cli::gpu {

namespace {
[[noreturn]] void not_built() {
    throw error("--device gpu: ncp was built without the cuBLAS backend (configure with -DNCP_WITH_CUBLAS=ON)");
}
}  // namespace

void require_device(int) { not_built(); }
train::result train_predictor(const io::run_config&, const data::benchmark&, const train::options&) { not_built(); }
search::summary run_search(const io::run_config&, std::vector<search::model_arg>,
                           const std::vector<std::pair<std::string, double>>&, const search::step_progress&) {
    not_built();
}

}  // namespace ncp::cli::gpu

#endif
