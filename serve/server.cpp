#include "serve/server.h"

#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data/transforms.h"
#include "data/tta.h"
#include "models/inference_model.h"
#include "serve/batcher.h"
#include "serve/connection_pool.h"
#include "serve/image_input.h"
#include "serve/page_html.h"
#include "serve/sessions.h"
#include "translate/speech.h"
#include "translate/wav.h"

namespace aslnet::serve {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr size_t kMaxSpeechCharacters = 200;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Every error is one line of JSON: {"error": "..."}.
void answer_error(httplib::Response& res, int status, std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  res.status = status;
  res.set_content(json{{"error", message}}.dump(), "application/json");
}

void answer_json(httplib::Response& res, const json& body) { res.set_content(body.dump(), "application/json"); }

// One image's answer from the classifications of its `count` views starting at `first`: their
// probabilities averaged (data/tta.h), and the largest batch, queue and model times among them.
Classification merge_views(const std::vector<Classification>& classified, size_t first, size_t count) {
  Classification merged;
  std::vector<std::vector<double>> per_view;
  for (size_t v = first; v < first + count; ++v) {
    per_view.push_back(classified[v].probabilities);
    merged.batch = std::max(merged.batch, classified[v].batch);
    merged.queue_ms = std::max(merged.queue_ms, classified[v].queue_ms);
    merged.model_ms = std::max(merged.model_ms, classified[v].model_ms);
  }
  merged.probabilities = average_probabilities(per_view);
  return merged;
}

// The routes and the methods they answer; anything else is a 404, or a 405 on a known path.
struct Route {
  const char* path;
  const char* method;
};
constexpr Route kRoutes[] = {{"/", "GET"},           {"/healthz", "GET"},          {"/predict", "POST"},
                             {"/translate", "POST"}, {"/translate/reset", "POST"}, {"/speech", "GET"}};

// The integer value of a query parameter, or `fallback` when absent; BadInput when it is not an integer.
int int_param(const httplib::Request& req, const char* name, int fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw BadInput(400, fmt::format("{}={} is not an integer", name, text));
  return value;
}

}  // namespace

struct Server::Impl {
  ServeOptions options;
  TtaMode tta;
  Context ctx;
  InferenceModel model;  // its network moves into the classifier; the metadata stays
  std::unique_ptr<BatchedClassifier> classifier;
  SessionStore sessions;
  // cpp-httplib's server, with its handling of one request on any stream made reachable (answer()).
  struct Http : httplib::Server {
    using httplib::Server::process_request;
  };
  Http http;
  Clock::time_point started = Clock::now();
  std::atomic<int64_t> requests{0};
  int port = -1;

  explicit Impl(const ServeOptions& o)
      : options(o),
        tta(parse_tta(o.tta)),
        ctx(make_context(o)),
        sessions({o.decoder, o.max_sessions, o.session_idle_s}) {
    ASLNET_CHECK(o.max_batch >= 1 && o.max_batch <= 1024) << "--max-batch must be in 1..1024, not " << o.max_batch;
    ASLNET_CHECK(o.batch_window_ms >= 0 && o.batch_window_ms <= 1000)
        << "--batch-window-ms must be in 0..1000, not " << o.batch_window_ms;
    ASLNET_CHECK(o.max_body_bytes >= 1024) << "--max-body-mb is too small";
    // Checked here too, not only by ConnectionPool: cpp-httplib makes the pool once it listens, after
    // "listening" is printed, on its own thread.
    ASLNET_CHECK(o.http_threads >= 1 && o.max_connections >= o.http_threads)
        << "--max-connections (" << o.max_connections << ") must be at least --http-threads (" << o.http_threads << ")";
    ASLNET_CHECK(o.max_pixels >= 1) << "--max-megapixels must be positive";
    ASLNET_CHECK(o.max_frames >= 1) << "--max-frames must be at least 1";
    ASLNET_CHECK(o.http_threads >= 1) << "--http-threads must be at least 1";
    if (o.allow_tf32) {
      ASLNET_CHECK(ctx.device().is_cuda()) << "--tf32 needs a GPU (the CPU computes in fp32)";
      ctx.set_allow_tf32(true);  // read by the layers at setup, below
    }
    // Set up per batch size by the classifier.
    model = load_for_inference(ctx, o.checkpoint, /*batch=*/0, BatchNormFold::Fold);
    classifier = std::make_unique<BatchedClassifier>(ctx, std::move(model.model), model.image_size,
                                                     BatchingOptions{o.batching, o.max_batch, o.batch_window_ms});
    routes();
  }

  static Context make_context(const ServeOptions& o) {
    ASLNET_CHECK(o.cpu_threads >= 0) << "--threads must not be negative";
    if (o.cpu_threads > 0) Context::set_cpu_threads(o.cpu_threads);  // before the model runs on the CPU
    return Context(inference_device(o.device));
  }

  // Decoded, and each view of the test-time augmentation made and normalised, on the calling (HTTP) thread.
  std::vector<std::vector<float>> prepare(const std::string& bytes, const std::string& name) {
    thread_local JpegDecoder jpeg;
    const int side = model.image_size;
    const Image decoded = decode_upload(jpeg, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                        options.max_pixels, min_decode_side(side, /*train=*/false), name);
    std::vector<std::vector<float>> views;
    for (const Image& view : tta_views(decoded, side, tta)) {
      views.emplace_back(size_t(side) * size_t(side) * 3);
      normalize_into(view, model.norm, DType::F32, views.back().data());
    }
    return views;
  }

  // A request's body as the handlers read it: the raw bytes whatever the Content-Type says, or the
  // fields of a multipart form, in order.
  struct Body {
    std::string raw;
    bool multipart = false;
    std::vector<std::pair<std::string, std::string>> fields;  // name, content
  };

  // Read through httplib's content reader rather than by httplib itself, which caps bodies declared as
  // forms (application/x-www-form-urlencoded, curl's default for --data-binary) at 8 KB and answers a
  // 22 KB photo with 413. The --max-body-mb limit still applies (a 413 naming it).
  Body read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) const {
    Body body;
    body.multipart = req.is_multipart_form_data();
    bool ok = true;
    if (body.multipart) {
      ok = reader(
          [&](const httplib::MultipartFormData& field) {
            body.fields.emplace_back(field.name, std::string());
            return true;
          },
          [&](const char* data, size_t n) {
            if (!body.fields.empty()) body.fields.back().second.append(data, n);
            return true;
          });
    } else {
      ok = reader([&](const char* data, size_t n) {
        body.raw.append(data, n);
        return true;
      });
    }
    if (!ok && res.status == 413)
      throw BadInput(413, fmt::format("the request body is larger than the limit of {} bytes (--max-body-mb)",
                                      options.max_body_bytes));
    if (!ok) throw BadInput(400, "the request body could not be read (cut short, or a malformed multipart form)");
    return body;
  }

  // The image of a /predict body: the raw bytes, or a multipart field `image`.
  static const std::string& predict_body(const Body& body) {
    if (!body.multipart) return body.raw;
    for (const auto& [name, content] : body.fields)
      if (name == "image") return content;
    throw BadInput(400, "the multipart body has no file field named image");
  }

  // The frames of a /translate body in order: the multipart fields `frame`, or the raw body as one.
  static std::vector<const std::string*> translate_frames(const Body& body) {
    std::vector<const std::string*> frames;
    if (!body.multipart) {
      frames.push_back(&body.raw);
      return frames;
    }
    for (const auto& [name, content] : body.fields)
      if (name == "frame") frames.push_back(&content);
    if (frames.empty()) throw BadInput(400, "the multipart body has no file field named frame");
    return frames;
  }

  json top_classes(const std::vector<double>& probabilities, int k) const {
    std::vector<size_t> order(probabilities.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](size_t a, size_t b) { return probabilities[a] > probabilities[b]; });
    json top = json::array();
    for (int j = 0; j < k; ++j)
      top.push_back({{"class", model.classes[order[size_t(j)]]}, {"probability", probabilities[order[size_t(j)]]}});
    return top;
  }

  void predict(const httplib::Request& req, const Body& body, httplib::Response& res) {
    const Clock::time_point start = Clock::now();
    const int k = int_param(req, "top_k", 5);
    if (k < 1 || k > int(model.classes.size()))
      throw BadInput(400, fmt::format("top_k must be in 1..{}, not {}", model.classes.size(), k));
    BatchedClassifier::Incoming incoming(*classifier);
    std::vector<std::vector<float>> inputs = prepare(predict_body(body), "the image");
    const size_t views = inputs.size();
    const double decode_ms = ms_since(start);
    const Classification c = merge_views(classifier->classify(std::move(inputs), &incoming), 0, views);
    answer_json(res,
                {{"top", top_classes(c.probabilities, k)},
                 {"batch", c.batch},
                 {"timing_ms",
                  {{"decode", decode_ms}, {"queue", c.queue_ms}, {"model", c.model_ms}, {"total", ms_since(start)}}}});
  }

  void translate(const httplib::Request& req, const Body& body, httplib::Response& res) {
    const Clock::time_point start = Clock::now();
    const std::string session = req.has_param("session") ? req.get_param_value("session") : "";
    if (req.has_param("session") && !SessionStore::valid_id(session))
      throw BadInput(400, "session must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -");
    const std::vector<const std::string*> frames = translate_frames(body);
    if (int(frames.size()) > options.max_frames)
      throw BadInput(413, fmt::format("{} frames in one request; the limit is {}", frames.size(), options.max_frames));

    // Unreadable frames are reported and break a hold, as in aslnet translate; the request fails only
    // when none can be read (with the first frame's reason).
    BatchedClassifier::Incoming incoming(*classifier);
    std::vector<std::vector<float>> inputs;
    std::vector<std::string> errors(frames.size());
    std::optional<BadInput> first_error;
    for (size_t i = 0; i < frames.size(); ++i) {
      try {
        for (auto& view : prepare(*frames[i], frames.size() == 1 ? "the frame" : fmt::format("frame {}", i + 1)))
          inputs.push_back(std::move(view));
      } catch (const BadInput& e) {
        errors[i] = e.what();
        if (!first_error) first_error = e;
      }
    }
    if (inputs.empty()) throw *first_error;
    const double decode_ms = ms_since(start);
    const size_t views = tta_view_list(tta).size();
    std::vector<Classification> classified;  // one per readable frame
    const std::vector<Classification> per_view = classifier->classify(std::move(inputs), &incoming);
    for (size_t first = 0; first < per_view.size(); first += views)
      classified.push_back(merge_views(per_view, first, views));

    json per_frame = json::array();
    auto decode = [&](SignDecoder& decoder) {
      size_t next = 0;
      for (size_t i = 0; i < frames.size(); ++i) {
        if (!errors[i].empty()) {
          decoder.push_unreadable();
          per_frame.push_back({{"error", errors[i]}});
          continue;
        }
        const std::vector<double>& p = classified[next++].probabilities;
        const size_t top = size_t(std::max_element(p.begin(), p.end()) - p.begin());
        const FrameOutcome outcome = decoder.push(model.classes[top], p[top]);
        json entry{{"top", model.classes[top]}, {"confidence", p[top]}};
        if (outcome.emitted) entry["emitted"] = outcome.sign;
        per_frame.push_back(entry);
      }
      return decoder.text();
    };
    std::string text;
    if (session.empty()) {
      SignDecoder decoder(options.decoder);
      text = decode(decoder);
    } else {
      sessions.with_decoder(session, [&](SignDecoder& decoder) { text = decode(decoder); });
    }
    json answer{{"text", text},
                {"frames", per_frame},
                {"batch", classified.front().batch},
                {"timing_ms",
                 {{"decode", decode_ms},
                  {"queue", classified.front().queue_ms},
                  {"model", classified.front().model_ms},
                  {"total", ms_since(start)}}}};
    if (!session.empty()) answer["session"] = session;
    answer_json(res, answer);
  }

  void reset(const httplib::Request& req, httplib::Response& res) {
    const std::string session = req.has_param("session") ? req.get_param_value("session") : "";
    if (!SessionStore::valid_id(session))
      throw BadInput(400, "session must be given: 8 to 64 characters of A-Z, a-z, 0-9, _ and -");
    sessions.reset(session);
    answer_json(res, {{"text", ""}, {"session", session}});
  }

  void speech(const httplib::Request& req, httplib::Response& res) {
    const std::string text = req.has_param("text") ? req.get_param_value("text") : "";
    if (text.empty() || text.size() > kMaxSpeechCharacters)
      throw BadInput(400, fmt::format("text must be 1 to {} characters, not {}", kMaxSpeechCharacters, text.size()));
    const std::vector<uint8_t> wav = encode_wav(synthesize_speech(text, {options.voice, options.rate}));
    res.set_content(std::string(wav.begin(), wav.end()), "audio/wav");
  }

  void health(httplib::Response& res) {
    const ServingStats stats = classifier->stats();
    answer_json(res, {{"status", "ok"},
                      {"arch", model.meta.model.arch},
                      {"image_size", model.image_size},
                      {"classes", model.classes},
                      {"device", ctx.device().is_cuda() ? "cuda:0" : "cpu"},
                      {"tta", tta_name(tta)},
                      {"batching",
                       {{"enabled", options.batching},
                        {"max_batch", options.max_batch},
                        {"window_ms", options.batch_window_ms},
                        {"mean_batch", stats.mean_batch()}}},
                      {"requests", requests.load()},
                      {"uptime_s", std::chrono::duration<double>(Clock::now() - started).count()}});
  }

  // Runs a handler, turning BadInput into its 4xx and anything else into a 500; both one-line JSON.
  template <class Handler>
  void answer_guarded(httplib::Response& res, const Handler& handler) {
    ++requests;
    try {
      handler();
    } catch (const BadInput& e) {
      answer_error(res, e.status(), e.what());
    } catch (const std::exception& e) {
      answer_error(res, 500, user_message(e));
    }
  }
  template <class Handler>
  httplib::Server::Handler guarded(Handler handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      answer_guarded(res, [&] { handler(req, res); });
    };
  }
  // The same for handlers of a body (read_body).
  template <class Handler>
  httplib::Server::HandlerWithContentReader guarded_with_body(Handler handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      answer_guarded(res, [&] {
        refuse_announced_oversize(req, res);
        handler(req, read_body(req, res, reader), res);
      });
    };
  }

  // A body announced larger than the limit is refused at once, unread (reading it first held a thread
  // for the read timeout when the client never sent it), and the connection then closes: the unread
  // body must not be taken for the next request.
  void refuse_announced_oversize(const httplib::Request& req, httplib::Response& res) const {
    if (!req.has_header("Content-Length")) return;
    const std::string announced = req.get_header_value("Content-Length");
    uint64_t bytes = 0;
    const auto [end, error] = std::from_chars(announced.data(), announced.data() + announced.size(), bytes);
    if (error == std::errc() && end == announced.data() + announced.size() && bytes <= uint64_t(options.max_body_bytes))
      return;
    res.set_header("Connection", "close");
    throw BadInput(413, fmt::format("the request announces a body of {} bytes; the limit is {} bytes (--max-body-mb)",
                                    announced, options.max_body_bytes));
  }

  void routes() {
    http.new_task_queue = [this] { return new ConnectionPool(options.http_threads, options.max_connections); };
    http.set_payload_max_length(size_t(options.max_body_bytes));
    http.set_keep_alive_max_count(1000);
    // Headers and body go out as two writes: without TCP_NODELAY the body waits for the client's
    // delayed acknowledgement of the headers, about 40 ms on every request of a kept-alive connection.
    http.set_tcp_nodelay(true);
    // Wrong methods and unknown paths are answered before routing, so every 4xx has a JSON body.
    http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      const bool head_of_get = req.method == "HEAD";
      for (const Route& r : kRoutes) {
        if (req.path != r.path) continue;
        if (req.method == r.method || (head_of_get && std::string(r.method) == "GET"))
          return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("Allow", r.method);
        answer_error(res, 405, fmt::format("{} answers {} only, not {}", r.path, r.method, req.method));
        return httplib::Server::HandlerResponse::Handled;
      }
      answer_error(res, 404, fmt::format("no such path: {}", req.path));
      return httplib::Server::HandlerResponse::Handled;
    });
    // Errors httplib raises itself (a body over the limit: 413; a malformed request: 400) get a JSON
    // body too; the handlers' own errors already have one.
    http.set_error_handler(
        httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string message = fmt::format("HTTP {}", res.status);
          // A well-formed POST whose body has no length (`curl -X POST URL` sends none) is read as far as
          // its headers: say what it lacks rather than that it is not HTTP.
          const bool unsized_post = req.method == "POST" && !req.has_header("Content-Length") &&
                                    req.get_header_value("Transfer-Encoding") != "chunked";
          if (res.status == 413)
            message = fmt::format("the request body is larger than the limit of {} bytes", options.max_body_bytes);
          else if (res.status == 400 && unsized_post)
            message = "a POST needs a Content-Length header (0 for an empty body, as curl -d '' sends) or a chunked body";
          else if (res.status == 400)
            message = "the request is not HTTP/1.1 that this server reads (a request line such as "
                      "'GET /healthz HTTP/1.1', header lines of 'Name: value', and a POST's body after its "
                      "Content-Length or chunked)";
          answer_error(res, res.status, message);
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      ++requests;
      res.set_content(page_html(), "text/html; charset=utf-8");
    });
    http.Get("/healthz", guarded([this](const httplib::Request&, httplib::Response& res) { health(res); }));
    http.Post("/predict", guarded_with_body([this](const httplib::Request& req, const Body& body,
                                                   httplib::Response& res) { predict(req, body, res); }));
    http.Post("/translate", guarded_with_body([this](const httplib::Request& req, const Body& body,
                                                     httplib::Response& res) { translate(req, body, res); }));
    http.Post("/translate/reset",
              guarded([this](const httplib::Request& req, httplib::Response& res) { reset(req, res); }));
    http.Get("/speech", guarded([this](const httplib::Request& req, httplib::Response& res) { speech(req, res); }));
  }
};

Server::Server(const ServeOptions& options) : impl_(std::make_unique<Impl>(options)) {}

Server::~Server() = default;

int Server::bind() {
  const ServeOptions& o = impl_->options;
  ASLNET_CHECK(o.port >= 0 && o.port <= 65535) << "--port must be in 0..65535, not " << o.port;
  // SO_REUSEADDR only: a restarted server may take its port while the old connections linger in
  // TIME_WAIT. cpp-httplib's default adds SO_REUSEPORT, with which a second server on a busy port
  // starts, and the kernel splits the requests between the two (two models answering at random).
  int listening = -1;
  impl_->http.set_socket_options([&listening](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
    listening = sock;
  });
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
  } else {
    impl_->port = impl_->http.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  ASLNET_CHECK(impl_->port > 0) << "cannot listen on " << o.host << ":" << o.port
                                << " (is the port in use, or the host not an address of this machine?)";
  // cpp-httplib listens with a backlog of 5: a burst of connections overflowed it, and each one past the
  // fifth waited a second for its SYN to be sent again. Linux takes a second listen() as a new backlog.
  if (listening >= 0) ::listen(listening, SOMAXCONN);
  impl_->http.set_socket_options([](socket_t) {});  // the lambda above refers to this call's locals
  return impl_->port;
}

void Server::run() {
  ASLNET_CHECK(impl_->port > 0) << "Server::run before bind";
  impl_->http.listen_after_bind();
}

void Server::stop() { impl_->http.stop(); }

namespace {

// A connection as bytes: the request is read from a string, the response appended to another.
class StringStream : public httplib::Stream {
 public:
  explicit StringStream(const std::string& request) : request_(request) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, request_.size() - position_);
    std::memcpy(ptr, request_.data() + position_, n);
    position_ += n;
    return ssize_t(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    response_.append(ptr, size);
    return ssize_t(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  const std::string& response() const { return response_; }

 private:
  const std::string& request_;
  size_t position_ = 0;
  std::string response_;
};

}  // namespace

std::string Server::answer(const std::string& request) {
  StringStream stream(request);
  bool closed = false;
  impl_->http.process_request(stream, /*close_connection=*/true, closed, nullptr);
  return stream.response();
}

std::string Server::describe() const {
  const Impl& s = *impl_;
  const std::string batching =
      s.options.batching ? fmt::format("batching up to {} in {} ms", s.options.max_batch, s.options.batch_window_ms)
                         : "no batching";
  const std::string tta = s.tta == TtaMode::none ? "" : ", test-time augmentation " + tta_name(s.tta);
  return fmt::format("listening on http://{}:{} ({} at {} px, {}, {}{})", s.options.host, s.port,
                     s.model.meta.model.arch, s.model.image_size, s.ctx.device().is_cuda() ? "cuda:0" : "cpu", batching,
                     tta);
}

}  // namespace aslnet::serve
