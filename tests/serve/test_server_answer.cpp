// The server's request handling without a socket (Server::answer, which the HTTP fuzz target drives):
// each route answers, and a request that is not HTTP, a wrong method or an unreadable photo gets its
// 4xx with a one-line JSON error.
#include <gtest/gtest.h>

#include <string>

#include "data/jpeg.h"
#include "serve/server.h"
#include "tests/serve/tiny_checkpoint.h"
#include "tests/test_util.h"

namespace aslnet::serve {
namespace {

class ServerAnswer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir("aslnet-answer");
    const std::string checkpoint = (dir_->path / "tiny.safetensors").string();
    test::write_tiny_checkpoint(checkpoint);
    ServeOptions options;
    options.checkpoint = checkpoint;
    options.device = "cpu";
    options.batching = false;
    server_ = new Server(options);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  static test::TempDir* dir_;
  static Server* server_;
};
test::TempDir* ServerAnswer::dir_ = nullptr;
Server* ServerAnswer::server_ = nullptr;

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST_F(ServerAnswer, EachRouteAnswers) {
  const std::string health = server_->answer("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(health.starts_with("HTTP/1.1 200")) << health;
  EXPECT_NE(health.find("\"arch\":\"resnet18\""), std::string::npos) << health;
  Image photo{24, 24, std::vector<uint8_t>(24 * 24 * 3, 128)};
  const std::vector<uint8_t> jpeg = encode_jpeg(photo);
  const std::string predicted = server_->answer(post("/predict?top_k=3", std::string(jpeg.begin(), jpeg.end())));
  EXPECT_TRUE(predicted.starts_with("HTTP/1.1 200")) << predicted;
  EXPECT_NE(predicted.find("\"top\""), std::string::npos) << predicted;
}

TEST_F(ServerAnswer, BadRequestsGetTheirErrorAsJson) {
  const std::string not_http = server_->answer("HELLO THERE\r\n\r\n");
  EXPECT_TRUE(not_http.starts_with("HTTP/1.1 400")) << not_http;
  EXPECT_NE(not_http.find("{\"error\":\"the request is not HTTP/1.1"), std::string::npos) << not_http;
  const std::string wrong_method = server_->answer("DELETE /predict HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(wrong_method.starts_with("HTTP/1.1 405")) << wrong_method;
  const std::string not_a_photo = server_->answer(post("/predict", "not a photo"));
  EXPECT_TRUE(not_a_photo.starts_with("HTTP/1.1 4")) << not_a_photo;
  EXPECT_NE(not_a_photo.find("{\"error\":"), std::string::npos) << not_a_photo;
  const std::string bad_top_k = server_->answer("POST /predict?top_k=x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_NE(bad_top_k.find("top_k=x is not an integer"), std::string::npos) << bad_top_k;
}

}  // namespace
}  // namespace aslnet::serve
