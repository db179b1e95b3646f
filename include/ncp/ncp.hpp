#pragma once
/// Umbrella header: everything ncp offers on the CPU, layer by layer (see README "library layout").
/// The cuBLAS backend and the ONNX export are opt-in: "ncp/backend/cublas.hpp" (ncp::cublas) and
/// "ncp/export/onnx.hpp" (ncp::onnx).

#include "ncp/fwd.hpp"
#include "ncp/parallel/memory.hpp"
#include "ncp/parallel/thread_team.hpp"

#include "ncp/backend/eigen_cpu.hpp"
#include "ncp/tensor/tensor.hpp"
#include "ncp/autograd/row_split.hpp"
#include "ncp/autograd/tape.hpp"
#include "ncp/autograd/ops.hpp"

#include "ncp/nn/layers.hpp"
#include "ncp/nn/loss.hpp"
#include "ncp/nn/predictor.hpp"
#include "ncp/optim/optimizers.hpp"
#include "ncp/optim/schedulers.hpp"

#include "ncp/data/format.hpp"
#include "ncp/data/dataset.hpp"
#include "ncp/data/statistics.hpp"

#include "ncp/arch/code.hpp"
#include "ncp/arch/code_list.hpp"
#include "ncp/arch/count.hpp"
#include "ncp/arch/describe.hpp"
#include "ncp/arch/model_code.hpp"
#include "ncp/arch/graph.hpp"
#include "ncp/arch/nb201.hpp"
#include "ncp/arch/synthetic.hpp"

#include "ncp/io/atomic.hpp"
#include "ncp/io/json.hpp"
#include "ncp/io/benchmark_writer.hpp"
#include "ncp/io/config.hpp"
#include "ncp/io/svg.hpp"
#include "ncp/io/checkpoint.hpp"
#include "ncp/io/results_csv.hpp"

#include "ncp/export/json.hpp"
#include "ncp/export/torch.hpp"
#include "ncp/export/files.hpp"

#include "ncp/train/trainer.hpp"
#include "ncp/train/predict.hpp"

#include "ncp/search/space.hpp"
#include "ncp/search/options.hpp"
#include "ncp/search/objective.hpp"
#include "ncp/search/budget.hpp"
#include "ncp/search/result.hpp"
#include "ncp/search/z_space.hpp"
#include "ncp/search/stepper.hpp"
#include "ncp/search/memo.hpp"
#include "ncp/search/selection.hpp"
#include "ncp/search/editor.hpp"
#include "ncp/search/report.hpp"
#include "ncp/search/program.hpp"
#include "ncp/search/ask.hpp"
#include "ncp/search/ask_program.hpp"
