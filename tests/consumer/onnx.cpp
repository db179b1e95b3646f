#include <iostream>

#include <ncp/export/onnx.hpp>

// The installed ONNX export through find_package(ncp COMPONENTS onnx): a model of the all-64 code in memory.
int main() {
    const auto code =
        ncp::arch::parse_code("64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64");
    const onnx::ModelProto model = ncp::exporting::onnx_model(code);
    if (model.graph().output(0).name() != "logits" || model.opset_import(0).version() < 13) {
        std::cerr << "consumer_onnx: unexpected model\n";
        return 1;
    }
    std::cout << "ncp " << ncp::version << ": ONNX model with " << model.graph().node_size() << " nodes\n";
    return 0;
}
