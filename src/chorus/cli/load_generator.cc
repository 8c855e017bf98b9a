#include "chorus/cli/load_generator.h"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include "chorus/resp/encoder.h"
#include "chorus/resp/reply_parser.h"
#include "chorus/server/server_options.h"

namespace chorus::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// One HTTP/1.1 response at the front of `buf`: its length (0: incomplete) and status code.
size_t http_response(std::string_view buf, int& status) {
  size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return 0;
  std::string head(buf.substr(0, head_end));
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
  const size_t body = head_end + 4;
  if (size_t cl = head.find("content-length:"); cl != std::string::npos) {
    const size_t len = std::strtoull(head.c_str() + cl + 15, nullptr, 10);
    return buf.size() >= body + len ? body + len : 0;
  }
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    size_t pos = body;
    while (true) {
      size_t eol = buf.find("\r\n", pos);
      if (eol == std::string_view::npos) return 0;
      const size_t n = std::strtoull(std::string(buf.substr(pos, eol - pos)).c_str(), nullptr, 16);
      pos = eol + 2 + n + 2;
      if (pos > buf.size()) return 0;
      if (n == 0) return pos;
    }
  }
  return body;
}

class Worker {
 public:
  Worker(const BenchSpec& spec, std::vector<std::string> endpoints, size_t connections,
         uint64_t seed)
      : spec_(spec), endpoints_(std::move(endpoints)), rng_(seed) {
    value_.assign(spec.value_bytes, 'v');
    conns_.resize(connections);
  }

  Status connect() {
    asio::ip::tcp::resolver resolver(io_);
    for (size_t i = 0; i < conns_.size(); ++i) {
      const std::string& ep = endpoints_[i % endpoints_.size()];
      CHORUS_ASSIGN_OR_RETURN(auto hp, server::split_host_port(ep));
      asio::error_code ec;
      auto results = resolver.resolve(hp.first, std::to_string(hp.second), ec);
      if (ec) return Status::Unavailable(ep + ": " + ec.message());
      conns_[i] = std::make_unique<Conn>(io_);
      asio::connect(conns_[i]->socket, results, ec);
      if (ec) return Status::Unavailable(ep + ": " + ec.message());
      conns_[i]->socket.set_option(asio::ip::tcp::no_delay(true));
      conns_[i]->host = ep;
    }
    return Status::Ok();
  }

  void run(Clock::time_point deadline) {
    deadline_ = deadline;
    for (auto& c : conns_) {
      for (size_t i = 0; i < depth(); ++i) enqueue(*c);
      flush(*c);
      read(*c);
    }
    io_.run();
  }

  BenchResult& result() { return result_; }

 private:
  struct Conn {
    explicit Conn(asio::io_context& io) : socket(io) {}
    asio::ip::tcp::socket socket;
    std::string host;
    std::deque<Clock::time_point> sent;
    std::string out, writing, in;
    bool write_in_flight = false;
    bool done = false;
  };

  size_t depth() const { return spec_.target == BenchTarget::kResp ? spec_.pipeline : 1; }

  std::string next_key() {
    return "key:" +
           std::to_string(std::uniform_int_distribution<uint64_t>(0, spec_.keys - 1)(rng_));
  }

  void enqueue(Conn& c) {
    const std::string key = next_key();
    const bool write = spec_.workload == BenchWorkload::kWrite;
    if (spec_.target == BenchTarget::kResp) {
      std::vector<std::string_view> argv;
      if (write) {
        argv = {"SET", key, value_};
      } else {
        argv = {"GET", key};
      }
      resp::encode_command(argv, c.out);
    } else {
      std::string body =
          write ? R"({"key":")" + base64(key) + R"(","value":")" + base64(value_) + "\"}"
                : R"({"key":")" + base64(key) + "\"}";
      c.out +=
          std::string("POST ") + (write ? "/v3/kv/put" : "/v3/kv/range") +
          " HTTP/1.1\r\nHost: " + c.host +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
    }
    c.sent.push_back(Clock::now());
  }

  void flush(Conn& c) {
    if (c.write_in_flight || c.out.empty()) return;
    c.writing.swap(c.out);
    c.out.clear();
    c.write_in_flight = true;
    asio::async_write(c.socket, asio::buffer(c.writing), [this, &c](asio::error_code ec, size_t) {
      c.write_in_flight = false;
      c.writing.clear();
      if (ec) return fail(c, "write: " + ec.message());
      flush(c);
    });
  }

  void read(Conn& c) {
    auto chunk = std::make_shared<std::array<char, 64 * 1024>>();
    c.socket.async_read_some(asio::buffer(*chunk), [this, &c, chunk](asio::error_code ec,
                                                                     size_t n) {
      if (ec) return fail(c, "read: " + ec.message());
      c.in.append(chunk->data(), n);
      size_t pos = 0;
      while (!c.sent.empty()) {
        size_t used = 0;
        bool ok = true;
        if (spec_.target == BenchTarget::kResp) {
          auto r = resp::parse_reply(std::string_view(c.in).substr(pos));
          if (!r.ok()) return fail(c, "bad reply: " + r.status().ToString());
          if (!r->has_value()) break;
          used = (*r)->consumed;
          if ((*r)->value.is_error()) {
            ok = false;
            if (result_.first_error.empty()) result_.first_error = (*r)->value.str;
          }
        } else {
          int status = 0;
          used = http_response(std::string_view(c.in).substr(pos), status);
          if (used == 0) break;
          if (status != 200) {
            ok = false;
            if (result_.first_error.empty()) result_.first_error = "HTTP " + std::to_string(status);
          }
        }
        pos += used;
        const auto now = Clock::now();
        if (ok) {
          ++result_.ok;
          result_.latency.add(static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(now - c.sent.front()).count()));
        } else {
          ++result_.errors;
        }
        c.sent.pop_front();
        if (now < deadline_) enqueue(c);
      }
      c.in.erase(0, pos);
      if (c.sent.empty()) {
        c.done = true;
        asio::error_code ignored;
        c.socket.close(ignored);
        return;
      }
      flush(c);
      read(c);
    });
  }

  void fail(Conn& c, const std::string& why) {
    if (c.done) return;
    c.done = true;
    result_.errors += c.sent.size();
    if (result_.first_error.empty()) result_.first_error = why;
    c.sent.clear();
    asio::error_code ignored;
    c.socket.close(ignored);
  }

  const BenchSpec& spec_;
  std::vector<std::string> endpoints_;
  std::mt19937_64 rng_;
  std::string value_;
  asio::io_context io_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Clock::time_point deadline_;
  BenchResult result_;
};

}  // namespace

void LatencyRecorder::add(uint64_t ns) {
  ns = std::max<uint64_t>(ns, 1);
  const unsigned msb = 63 - static_cast<unsigned>(std::countl_zero(ns));
  const uint64_t sub = msb >= 4 ? (ns >> (msb - 4)) & (kSub - 1) : (ns << (4 - msb)) & (kSub - 1);
  ++buckets_[msb * kSub + sub];
  ++count_;
}

void LatencyRecorder::merge(const LatencyRecorder& o) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
}

double LatencyRecorder::percentile_ms(double p) const {
  if (count_ == 0) return 0;
  const uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= std::max<uint64_t>(rank, 1)) {
      const unsigned msb = static_cast<unsigned>(i / kSub);
      const double lower =
          std::ldexp(1.0 + static_cast<double>(i % kSub) / kSub, static_cast<int>(msb));
      const double upper =
          std::ldexp(1.0 + static_cast<double>(i % kSub + 1) / kSub, static_cast<int>(msb));
      return (lower + upper) / 2 / 1e6;  // the bucket's middle, in ms
    }
  }
  return 0;
}

Result<BenchResult> run_bench(const BenchSpec& spec) {
  if (spec.endpoints.empty()) return Status::InvalidArgument("no endpoints");
  const size_t threads = std::max<size_t>(1, std::min(spec.threads, spec.concurrency));
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t t = 0; t < threads; ++t) {
    const size_t conns = spec.concurrency / threads + (t < spec.concurrency % threads ? 1 : 0);
    // Rotate the endpoints so that every thread spreads over all of them.
    std::vector<std::string> eps = spec.endpoints;
    std::rotate(eps.begin(), eps.begin() + static_cast<ptrdiff_t>(t % eps.size()), eps.end());
    workers.push_back(std::make_unique<Worker>(spec, std::move(eps), conns, 1234 + t));
    CHORUS_TRY(workers.back()->connect());
  }
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(spec.seconds));
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w, deadline] { w->run(deadline); });
  for (auto& t : running) t.join();
  BenchResult total;
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& w : workers) {
    total.ok += w->result().ok;
    total.errors += w->result().errors;
    total.latency.merge(w->result().latency);
    if (total.first_error.empty()) total.first_error = w->result().first_error;
  }
  return total;
}

}  // namespace chorus::cli
