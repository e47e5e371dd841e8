// OUT/metrics.csv (report/metrics_csv.h): rows written read back with empty cells as NaN, a resumed
// run keeps only the epochs its checkpoint finished, and every damaged file is an error naming the file
// and the line.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"
#include "report/metrics_csv.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

EpochMetrics row(int64_t epoch, bool validated = true) {
  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = 3.0 / double(epoch);
  m.train_accuracy = 0.1 * double(epoch);
  if (validated) {
    m.val_loss = 2.5;
    m.val_accuracy = 0.25;
  }
  m.lr = 0.1;
  m.images_per_second = 123.45;
  m.seconds = 2.0;
  m.elapsed_seconds = 2.0 * double(epoch);
  return m;
}

std::string text_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string error_of(const std::string& path) {
  try {
    read_metrics_csv(path);
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

TEST(MetricsCsv, ColumnsNameEachValidationSetOnlyWhenThereAreSeveral) {
  const std::vector<std::string> one = metrics_columns({"data"});
  EXPECT_EQ(one.front(), "epoch");
  EXPECT_EQ(one.size(), 10u);
  const std::vector<std::string> two = metrics_columns({"kaggle", "my hands,2"});
  ASSERT_EQ(two.size(), 12u);
  EXPECT_EQ(two[10], "val_kaggle_acc");
  EXPECT_EQ(two[11], "val_my_hands_2_acc");  // no cell needs quoting
}

TEST(MetricsCsv, RowsReadBackWithEmptyCellsAsNaN) {
  test::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string path = (dir.path / "metrics.csv").string();
  {
    MetricsWriter writer(path, metrics_columns({"a", "b"}));
    EpochMetrics m = row(1);
    m.set_accuracy = {0.5, 0.0};
    writer.append(m);
    // Flushed: readable while the writer is still open.
    EXPECT_EQ(read_metrics_csv(path).rows.size(), 1u);
    EpochMetrics unvalidated = row(2, false);
    unvalidated.set_accuracy = {NAN, NAN};
    writer.append(unvalidated);
  }
  const MetricsTable table = read_metrics_csv(path);
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.column("epoch"), (std::vector<double>{1, 2}));
  EXPECT_DOUBLE_EQ(table.column("train_loss")[1], 1.5);
  EXPECT_DOUBLE_EQ(table.column("val_acc")[0], 0.25);
  EXPECT_TRUE(std::isnan(table.column("val_acc")[1]));
  EXPECT_TRUE(std::isnan(table.column("ema_val_acc")[0]));
  EXPECT_DOUBLE_EQ(table.column("val_a_acc")[0], 0.5);
  EXPECT_DOUBLE_EQ(table.column("images_per_s")[0], 123.5);  // one decimal
  EXPECT_EQ(table.find("nope"), -1);
  EXPECT_THROW(table.column("nope"), Error);
  // A row of the wrong width is refused before it is written.
  MetricsWriter writer(path, metrics_columns({"a", "b"}));
  EXPECT_THROW(writer.append(row(1)), Error);
}

TEST(MetricsCsv, AResumedRunKeepsTheEpochsItsCheckpointFinished) {
  test::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string path = (dir.path / "metrics.csv").string();
  {
    MetricsWriter writer(path, metrics_columns({"data"}));
    for (int64_t e = 1; e <= 3; ++e) writer.append(row(e));  // the interrupted run reached epoch 3
  }
  {
    std::string note;
    MetricsWriter writer(path, metrics_columns({"data"}), path, 2, note);  // its checkpoint: epoch 2
    EXPECT_EQ(note, "");
    EXPECT_DOUBLE_EQ(writer.elapsed_before(), 4.0);
    writer.append(row(3));
    writer.append(row(4));
  }
  EXPECT_EQ(read_metrics_csv(path).column("epoch"), (std::vector<double>{1, 2, 3, 4}));
  // Kept rows keep their text.
  const std::string text = text_of(path);
  EXPECT_NE(text.find("\n1,3,0.1,2.5,0.25,,0.1,123.5,2,2\n"), std::string::npos) << text;

  // Continued in another folder: the rows come from the interrupted run's file.
  const std::string moved = (dir.path / "moved.csv").string();
  {
    std::string note;
    MetricsWriter writer(moved, metrics_columns({"data"}), path, 1, note);
  }
  EXPECT_EQ(read_metrics_csv(moved).column("epoch"), (std::vector<double>{1}));
  // Another header (other validation sets): the file starts afresh, and says so.
  {
    std::string note;
    MetricsWriter writer(path, metrics_columns({"a", "b"}), path, 2, note);
    EXPECT_NE(note.find("other columns"), std::string::npos) << note;
  }
  EXPECT_EQ(text_of(path),
            "epoch,train_loss,train_acc,val_loss,val_acc,ema_val_acc,lr,images_per_s,epoch_s,"
            "elapsed_s,val_a_acc,val_b_acc\n");
  // A damaged file: starts afresh too, naming the line.
  write_text(path, text_of(moved) + "2,oops\n");
  std::string note;
  MetricsWriter writer(path, metrics_columns({"data"}), path, 2, note);
  EXPECT_NE(note.find(":3:"), std::string::npos) << note;
}

TEST(MetricsCsv, DamagedFilesAreNamedWithTheirLine) {
  test::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string path = (dir.path / "metrics.csv").string();
  EXPECT_NE(error_of(path).find("cannot read " + path), std::string::npos);
  write_text(path, "");
  EXPECT_EQ(error_of(path), path + " is empty");
  write_text(path, "epoch,train_loss\n");
  EXPECT_NE(error_of(path).find("no rows"), std::string::npos);
  write_text(path, "loss,epoch\n1,2\n");
  EXPECT_NE(error_of(path).find(path + ":1: the header starts with 'loss'"), std::string::npos) << error_of(path);
  write_text(path, "epoch,train_loss\n1,0.5\n2\n");
  EXPECT_EQ(error_of(path), path + ":3: 1 cells, the header has 2");
  write_text(path, "epoch,train_loss\n1,0.5\n2,abc\n");
  EXPECT_EQ(error_of(path), path + ":3: train_loss is 'abc', not a number");
  write_text(path, "epoch,train_loss\n1.5,0.5\n");
  EXPECT_NE(error_of(path).find(":2: epoch is '1.5'"), std::string::npos) << error_of(path);
  write_text(path, "epoch,train_loss\r\n1,nan\r\n");
  EXPECT_NE(error_of(path).find(":2: train_loss is 'nan'"), std::string::npos) << error_of(path);
  write_text(path, "epoch,train_loss\r\n1,0.5\r\n\r\n");  // Windows line ends, a blank last line
  EXPECT_EQ(error_of(path), "");
}

}  // namespace
}  // namespace aslnet
