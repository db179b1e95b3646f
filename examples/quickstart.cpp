/// The NCP pipeline through the library API alone: load a benchmark, train the predictor, edit the all-64 code
/// along its gradient, print the selected architecture. Copy it into a project that does
/// `find_package(ncp REQUIRED)` and links `ncp::ncp`; run it where configs/seg.yaml and data/seg/trainval.bin are
/// (or pass another config: `quickstart configs/seg.yaml --data.dataset synthetic`).

#include <iostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <ncp/ncp.hpp>

int main(int argc, char** argv) try {
    std::vector<std::pair<std::string, std::string>> overrides;  // --section.key value, as for the ncp program
    for (int i = 2; i + 1 < argc; i += 2) overrides.emplace_back(std::string(argv[i]).substr(2), argv[i + 1]);
    const ncp::io::run_config cfg = ncp::io::load_config(argc > 1 ? argv[1] : "configs/seg.yaml", overrides);

    // Load and train (docs/algorithm.md section 5): the best model of the run, in evaluation mode.
    const ncp::data::benchmark bench = ncp::train::load_data(cfg);
    const ncp::train::result trained = ncp::train::train_predictor(cfg, bench);
    std::vector<ncp::search::task<>> tasks(1);
    tasks[0].name = cfg.data.dataset;
    tasks[0].models.push_back(ncp::io::make_predictor(trained.best, "trained model"));

    // Search (docs/algorithm.md section 6): 70 gradient steps from the all-64 code, exact FLOPs/params of every rounded
    // code.
    ncp::search::editor<ncp::search::mr_space> editor(ncp::search::mr_space(), std::move(tasks),
                                                      ncp::search::make_options(cfg.editing));
    const ncp::arch::code start = editor.space().default_start();
    const auto result = editor.run(std::span(&start, 1));

    const auto& first = result.candidates[result.rounded[0]];
    const auto& best = result.candidates[result.selected];
    const std::string metric = result.metric_names[0][0];
    std::cout << "start:    " << ncp::arch::to_string(first.code) << "\n          " << metric << " "
              << first.predicted[0] << " (predicted), " << first.cost->flops_g() << " G FLOPs\n"
              << "selected: " << ncp::arch::to_string(best.code) << "\n          " << metric << " "
              << best.predicted[0] << " (predicted), " << best.cost->flops_g() << " G FLOPs, "
              << best.cost->params_m() << " M params (" << result.cost_source << ")\n";
    return 0;
} catch (const std::exception& e) {
    std::cerr << "quickstart: " << e.what() << "\n";
    return 1;
}
