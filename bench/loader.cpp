// Benchmark: the JPEG loader (decode at a reduced DCT scale, resize, normalise into NHWC f32 batches,
// worker threads) against the seed's torchvision pipeline (bench/peers/torch_loader.py: ImageFolder,
// Resize, ToTensor, Normalize, DataLoader) on the same folder with the same number of workers, in one
// invocation, at each output size asked for. Prints images/s for both, the ratio, and the loader's
// output bandwidth. Not a test: nothing is asserted.
#include "data/loader.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "bench/peer_value.h"
#include "data/dataset_index.h"
#include "engine/core/context.h"

int main(int argc, char** argv) {
  using namespace aslnet;
  CLI::App app{"Loader benchmark, aslnet against torchvision's DataLoader"};
  std::string folder;
  std::vector<int> sizes{200, 64};
  int workers = 2;
  int64_t batch = 64, epochs = 1;
  bool peer = true, augment = false;
  app.add_option("folder", folder, "a folder of class folders (e.g. the extracted asl200-sample.tar)")->required();
  app.add_option("--sizes", sizes, "output sizes");
  app.add_option("--workers", workers, "loader threads, and DataLoader workers");
  app.add_option("--batch", batch);
  app.add_option("--epochs", epochs, "timed epochs (after one warm-up epoch)");
  app.add_flag("--augment", augment, "time the training transform (random crop, flip, jitter, rotation)");
  app.add_flag("!--no-peer", peer, "skip the torchvision run");
  CLI11_PARSE(app, argc, argv);
  try {
    Context::set_cpu_threads(workers);
    const DatasetIndex index = index_class_folders(folder);
    fmt::print("{}: {} images, {} workers, batch {}{}\n", folder, index.samples.size(), workers, batch,
               augment ? ", training augmentation" : "");
    for (int size : sizes) {
      LoaderOptions options;
      options.batch = batch;
      options.image_size = size;
      options.train = augment;
      options.threads = workers;
      Loader loader(index, options);
      auto epoch = [&](int64_t e) {
        int64_t images = 0;
        loader.start_epoch(e);
        Batch b;
        while (loader.next(b)) images += b.valid;
        return images;
      };
      epoch(0);  // warm-up: page cache, threads, allocations
      const auto start = std::chrono::steady_clock::now();
      int64_t images = 0;
      for (int64_t e = 1; e <= epochs; ++e) images += epoch(e);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double ours = double(images) / seconds;
      fmt::print("{:>4} px  aslnet      {:9.1f} img/s  ({:.2f} GB/s of f32 batches)\n", size, ours,
                 ours * size * size * 3 * 4 / 1e9);
      if (!peer) continue;
      const double theirs = bench::peer_value(
          "torch_loader.py",
          fmt::format("'{}' --size {} --batch {} --workers {} --epochs {}", folder, size, batch, workers, epochs),
          "images_per_second");
      if (theirs > 0) {
        fmt::print("{:>4} px  torchvision {:9.1f} img/s\n", size, theirs);
        fmt::print("{:>4} px  ratio       {:9.2f}x\n", size, ours / theirs);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loader: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
