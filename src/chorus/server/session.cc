#include "chorus/server/session.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>

#include "chorus/kv/command_table.h"
#include "chorus/kv/proposal.h"
#include "chorus/server/server.h"

namespace chorus::server {
namespace {

constexpr size_t kReadChunkBytes = 16 * 1024;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Calls to the node in flight per connection (reads, or batches of writes).
constexpr size_t kMaxCallsInFlight = 64;
// The most commands and bytes one append_batch carries.
constexpr size_t kMaxWritesPerBatch = 256;
constexpr size_t kMaxBatchBytes = 1u << 20;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

namespace {
std::variant<asio::ip::tcp::socket, asio::ssl::stream<asio::ip::tcp::socket>> make_stream(
    asio::ip::tcp::socket socket, asio::ssl::context* tls) {
  if (tls == nullptr) return socket;
  return asio::ssl::stream<asio::ip::tcp::socket>(std::move(socket), *tls);
}
}  // namespace

Session::Session(Server& server, asio::ip::tcp::socket sock, asio::ssl::context* tls, uint64_t id)
    : server_(server),
      stream_(make_stream(std::move(sock), tls)),
      resume_(this->socket().get_executor()),
      id_(id),
      created_(std::chrono::steady_clock::now()),
      parser_(resp::RequestLimits{server.options().proto_max_bulk_len,
                                  server.options().proto_max_args,
                                  server.options().proto_max_inline}) {
  authenticated_ = server_.options().requirepass.empty();
  asio::error_code ec;
  auto ep = socket().remote_endpoint(ec);
  peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket().set_option(asio::ip::tcp::no_delay(true), ec);
}

asio::ip::tcp::socket& Session::socket() {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) return tls->next_layer();
  return std::get<asio::ip::tcp::socket>(stream_);
}

Session::~Session() = default;

void Session::start() {
  asio::co_spawn(
      socket().get_executor(), [self = shared_from_this()] { return self->read_loop(); },
      asio::detached);
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  server_.pubsub().remove(this);
  asio::error_code ec;
  socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket().close(ec);
  resume_.cancel();
  server_.on_session_closed(id_);
}

bool Session::output_full() const {
  return out_.size() + writing_.size() + slot_bytes_ >
         server_.options().client_output_limit_bytes / 2;
}

bool Session::paused() const {
  const auto& o = server_.options();
  return close_after_flush_ || slots_.size() >= o.max_pipeline || queue_.size() >= o.max_pipeline ||
         output_full();
}

asio::awaitable<void> Session::read_loop() {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    // A client that never finishes its handshake is dropped (it holds no other resource).
    asio::steady_timer deadline(socket().get_executor());
    deadline.expires_after(kHandshakeTimeout);
    deadline.async_wait([self = shared_from_this()](asio::error_code ec) {
      if (!ec) self->close();
    });
    auto handshake = tls->async_handshake(asio::ssl::stream_base::server, kTuple);
    auto [ec] = co_await std::move(handshake);
    deadline.cancel();
    if (ec || closed_) {
      if (!closed_) server_.log_info("client " + peer_ + ": TLS handshake failed: " + ec.message());
      close();
      co_return;
    }
  }
  std::vector<char> buf(kReadChunkBytes);
  while (!closed_) {
    while (paused() && !closed_) {
      resume_.expires_at(asio::steady_timer::time_point::max());
      auto wait = resume_.async_wait(kTuple);
      auto [ec] = co_await std::move(wait);
      (void)ec;  // cancelled: look again
    }
    if (closed_) break;
    auto [ec, n] = co_await std::visit(
        [&](auto& s) { return s.async_read_some(asio::buffer(buf), kTuple); }, stream_);
    if (ec || closed_) break;
    server_.stats().net_input_bytes += n;
    take_commands(std::string_view(buf.data(), n));
  }
  close();
}

void Session::take_commands(std::string_view input) {
  size_t pos = 0;
  while (pos < input.size()) {
    size_t consumed = 0;
    Argv argv;
    resp::ParseStatus st = parser_.parse(input.substr(pos), consumed, argv);
    pos += consumed;
    if (st == resp::ParseStatus::kCommand) {
      queue_.push_back(std::move(argv));
    } else if (st == resp::ParseStatus::kNeedMore) {
      break;
    } else {
      // Replied after every command before it, then the connection closes (Redis does the same).
      queue_.push_back({std::string(kProtocolErrorMarker), parser_.error()});
      break;
    }
  }
  dispatch();
}

// -- running commands ------------------------------------------------------------------------

Session::Kind Session::classify(const Argv& argv) const {
  if (argv.empty() || argv[0] == kProtocolErrorMarker) return Kind::kLocal;
  const std::string name = lower(argv[0]);
  if (!authenticated_) return Kind::kLocal;
  if (protocol_ == resp::Protocol::kResp2 && (!channels_.empty() || !patterns_.empty())) {
    return Kind::kLocal;  // subscribed: only (P)(UN)SUBSCRIBE, PING, QUIT, RESET
  }
  if (name == "exec") return in_multi_ && !multi_failed_ ? Kind::kWrite : Kind::kLocal;
  if (in_multi_) return Kind::kLocal;  // queued, or MULTI/DISCARD/WATCH answered here
  if (name == "watch") return Kind::kRead;
  if (name == "ping" || name == "echo") return Kind::kLocal;  // the state machine's only in MULTI
  const kv::CommandSpec* spec = kv::find_command(name);
  if (spec == nullptr || kv::check(argv).has_value()) return Kind::kLocal;
  return kv::is_write(argv) ? Kind::kWrite : Kind::kRead;
}

void Session::dispatch() {
  if (dispatching_) {
    redispatch_ = true;  // a completion ran inside us; the loop below picks its effects up
    return;
  }
  dispatching_ = true;
  do {
    redispatch_ = false;
    // A client that does not read its replies gets no more commands run until it does: what
    // waits to be sent stays under the output limit (plus the replies of calls in flight).
    while (!queue_.empty() && !closed_ && !close_after_flush_ && !output_full()) {
      const Kind kind = classify(queue_.front());
      if (kind == Kind::kLocal) {
        Argv argv = std::move(queue_.front());
        queue_.pop_front();
        run_local(argv);
        continue;
      }
      if (inflight_ > 0 && (inflight_kind_ != kind || inflight_ >= kMaxCallsInFlight)) break;
      if (kind == Kind::kWrite) {
        run_writes();
      } else {
        Argv argv = std::move(queue_.front());
        queue_.pop_front();
        run_read(std::move(argv));
      }
    }
  } while (redispatch_ && !closed_);
  dispatching_ = false;
  flush();
  if (!paused()) resume_.cancel();
}

void Session::run_writes() {
  std::vector<uint64_t> slots;
  std::vector<Bytes> commands;
  std::vector<std::string> names;
  size_t bytes = 0;
  const int64_t now = server_.now_ms();
  while (!queue_.empty() && commands.size() < kMaxWritesPerBatch && bytes < kMaxBatchBytes &&
         classify(queue_.front()) == Kind::kWrite) {
    Argv argv = std::move(queue_.front());
    queue_.pop_front();
    std::string name = lower(argv[0]);
    const uint64_t slot = open_slot();
    kv::Proposal p;
    p.now_ms = now;
    if (name == "exec") {
      p.exec = true;
      p.commands = std::move(multi_);
      p.watches.assign(watches_.begin(), watches_.end());
      multi_.clear();
      watches_.clear();
      in_multi_ = false;
    } else {
      if (std::optional<resp::Value> refused = server_.refuse_write(argv)) {
        reply(slot, *refused);
        continue;
      }
      p.commands.push_back(std::move(argv));
    }
    Bytes encoded = kv::encode(p);
    bytes += encoded.size();
    commands.push_back(std::move(encoded));
    slots.push_back(slot);
    names.push_back(std::move(name));
  }
  if (commands.empty()) return;
  ++inflight_;
  inflight_kind_ = Kind::kWrite;
  const auto started = std::chrono::steady_clock::now();
  server_.node().async_append_batch(std::move(commands),
                                    [self = shared_from_this(), slots = std::move(slots),
                                     names = std::move(names), started](node::BatchResult r) {
                                      self->server_.stats().record(names, started, r.status.ok());
                                      for (size_t i = 0; i < slots.size(); ++i) {
                                        if (r.status.ok() && i < r.results.size()) {
                                          self->fill(slots[i], self->from_machine(r.results[i]));
                                        } else {
                                          self->reply(slots[i], write_error(r.status));
                                        }
                                      }
                                      self->finish_call();
                                    });
}

void Session::run_read(Argv argv) {
  const uint64_t slot = open_slot();
  std::string name = lower(argv[0]);
  const bool watch = name == "watch";
  if (stale_reads_ && !watch) {
    // READONLY: this node's state as it is, no read index (may be stale; the client asked).
    const auto started = std::chrono::steady_clock::now();
    resp::Value v = server_.store().read(argv, server_.now_ms());
    server_.stats().record({name}, started, true);
    reply(slot, v);
    return;
  }
  kv::ReadRequest request{server_.now_ms(), {}};
  if (watch) {
    request.argv = {"EXISTS", argv[1]};  // only the read index matters
  } else {
    request.argv = std::move(argv);
  }
  ++inflight_;
  inflight_kind_ = Kind::kRead;
  const auto started = std::chrono::steady_clock::now();
  server_.node().async_read(
      kv::encode(request), [self = shared_from_this(), slot, name = std::move(name), started,
                            keys = watch ? std::move(argv) : Argv{}](node::ReadResult r) {
        self->server_.stats().record({name}, started, r.status.ok());
        if (!r.status.ok()) {
          self->reply(slot, read_error(r.status));
        } else if (!keys.empty()) {
          // WATCH: this node has applied at least up to the read index, so the revisions below
          // are at least as new as the moment WATCH took effect.
          for (size_t i = 1; i < keys.size(); ++i) {
            self->watches_.emplace(keys[i], self->server_.store().key_revision(keys[i]));
          }
          self->reply(slot, resp::Value::ok());
        } else {
          self->fill(slot, self->from_machine(r.result));
        }
        self->finish_call();
      });
}

void Session::finish_call() {
  CHORUS_ASSERT(inflight_ > 0);
  --inflight_;
  if (closed_) return;
  dispatch();
}

// -- replies ---------------------------------------------------------------------------------

uint64_t Session::open_slot() {
  slots_.emplace_back();
  return first_slot_ + slots_.size() - 1;
}

void Session::fill(uint64_t slot, std::string bytes) {
  CHORUS_ASSERT(slot >= first_slot_ && slot < first_slot_ + slots_.size());
  Slot& s = slots_[slot - first_slot_];
  CHORUS_ASSERT(!s.ready, "a reply slot filled twice");
  s.ready = true;
  slot_bytes_ += bytes.size();
  s.bytes = std::move(bytes);
  if (!dispatching_) flush();
}

void Session::reply(uint64_t slot, const resp::Value& v) {
  if (v.is_error()) server_.stats().errors += 1;
  fill(slot, resp::encode(v, protocol_));
}

std::string Session::from_machine(ByteSpan encoded) const {
  if (encoded.size() > 0 && static_cast<char>(encoded[0]) == '-') server_.stats().errors += 1;
  return std::string(reply_for(as_string_view(encoded), protocol_ == resp::Protocol::kResp3));
}

void Session::flush() {
  if (closed_) return;
  while (!slots_.empty() && slots_.front().ready) {
    slot_bytes_ -= slots_.front().bytes.size();
    out_ += slots_.front().bytes;
    slots_.pop_front();
    ++first_slot_;
  }
  write_more();
}

void Session::write_more() {
  if (closed_ || write_in_flight_) return;
  if (out_.empty()) {
    if (close_after_flush_ && slots_.empty() && inflight_ == 0) close();
    return;
  }
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  server_.stats().net_output_bytes += writing_.size();
  std::visit(
      [&](auto& s) {
        asio::async_write(s, asio::buffer(writing_),
                          [self = shared_from_this()](asio::error_code ec, size_t) {
                            self->write_in_flight_ = false;
                            self->writing_.clear();
                            if (ec) return self->close();
                            self->write_more();
                            self->dispatch();  // commands held back while the output was full
                          });
      },
      stream_);
}

void Session::deliver(std::string_view channel, std::string_view message,
                      const std::string* pattern) {
  if (closed_) return;
  std::vector<resp::Value> parts;
  if (pattern) {
    parts = {resp::Value::bulk("pmessage"), resp::Value::bulk(*pattern),
             resp::Value::bulk(std::string(channel)), resp::Value::bulk(std::string(message))};
  } else {
    parts = {resp::Value::bulk("message"), resp::Value::bulk(std::string(channel)),
             resp::Value::bulk(std::string(message))};
  }
  reply_now(resp::Value::push(std::move(parts)));
  if (out_.size() + writing_.size() + slot_bytes_ > server_.options().client_output_limit_bytes) {
    server_.log_warn("client " + std::to_string(id_) + " (" + peer_ +
                     ") closed: unsent pub/sub messages over client-output-limit");
    close();
  }
}

std::string Session::describe() const {
  const auto age =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - created_)
          .count();
  return "id=" + std::to_string(id_) + " addr=" + peer_ + " name=" + name_ +
         " age=" + std::to_string(age) + " db=0 sub=" + std::to_string(channels_.size()) +
         " psub=" + std::to_string(patterns_.size()) +
         " multi=" + std::to_string(in_multi_ ? static_cast<int64_t>(multi_.size()) : -1) +
         " qbuf=" + std::to_string(parser_.buffered_bytes()) +
         " omem=" + std::to_string(out_.size() + writing_.size() + slot_bytes_) +
         " resp=" + std::to_string(static_cast<int>(protocol_)) + " cmd=" + last_command_;
}

}  // namespace chorus::server
