// Session: one client connection (RESP2, or RESP3 after HELLO 3), on the node's io thread.
//
// Pipelining. A client may send many commands before reading a reply; the session runs them
// concurrently where that keeps the meaning of sending them one by one:
//   - consecutive writes go to the log together, as one append_batch (in order, so the log holds
//     them in the order sent);
//   - consecutive reads run together (each a linearizable read; the core batches ReadIndex);
//   - a read after a write waits for the write's reply, and a write after a read waits for the
//     read's (so a client always reads its own writes, and a read never sees a later write of
//     its own);
//   - commands answered by the session itself (PING, CLIENT, MULTI queueing...) answer at once.
// Replies always leave in the order the commands came: each command takes a slot in a queue,
// and the ready prefix of the queue is written.
//
// Limits. The session stops reading a client's requests while max_pipeline commands wait for
// replies or the unsent replies exceed client_output_limit_bytes / 2 (a client that never reads
// its replies is throttled, not buffered); a subscriber whose unsent messages exceed the limit is
// disconnected, as Redis does. A protocol error replies "-ERR Protocol error: ..." and closes
// that connection only.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "chorus/resp/encoder.h"
#include "chorus/resp/request_parser.h"
#include "chorus/resp/value.h"
#include "chorus/server/pubsub.h"

namespace chorus::server {

class Server;
using Argv = std::vector<std::string>;

// ASCII lowercase: command and option names are case-insensitive (Redis compares them so).
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Queued in place of a command when the request parser fails: its error is answered after the
// replies of the commands before it, then the connection closes.
inline constexpr std::string_view kProtocolErrorMarker = "\x01protocol-error";

class Session final : public std::enable_shared_from_this<Session>, public PubSub::Subscriber {
 public:
  // `tls`: serve this client over TLS (handshake first); null for plaintext.
  Session(Server& server, asio::ip::tcp::socket socket, asio::ssl::context* tls, uint64_t id);
  ~Session();

  void start();
  // Closes the connection now (server shutdown, CLIENT KILL, output limit).
  void close();

  // PubSub::Subscriber
  void deliver(std::string_view channel, std::string_view message,
               const std::string* pattern) override;

  // For CLIENT LIST / INFO.
  uint64_t id() const { return id_; }
  std::string describe() const;
  bool closed() const { return closed_; }

 private:
  enum class Kind : uint8_t { kLocal, kRead, kWrite };
  struct Slot {
    bool ready = false;
    std::string bytes;
  };

  asio::awaitable<void> read_loop();
  void take_commands(std::string_view input);
  void dispatch();
  bool paused() const;
  bool output_full() const;

  // Replies, in order.
  uint64_t open_slot();
  void fill(uint64_t slot, std::string bytes);
  void reply(uint64_t slot, const resp::Value& v);
  void reply_now(const resp::Value& v) { reply(open_slot(), v); }
  // A reply the state machine produced (kv_machine.h), in this client's protocol.
  std::string from_machine(ByteSpan encoded) const;
  void flush();
  void write_more();

  // Running commands.
  Kind classify(const Argv& argv) const;
  void run_local(Argv& argv);
  void run_writes();  // the writes at the front of the queue, as one batch
  void run_read(Argv argv);
  void finish_call();

  // Local command families (session_commands.cc).
  bool allowed_before_auth(const std::string& name) const;
  void cmd_hello(const Argv& argv);
  void cmd_auth(const Argv& argv);
  void cmd_client(const Argv& argv);
  void cmd_config(const Argv& argv);
  void cmd_command(const Argv& argv);
  void cmd_info(const Argv& argv);
  void cmd_chorus(const Argv& argv);
  void cmd_subscribe(const Argv& argv, bool pattern, bool subscribe);
  void cmd_multi(Argv& argv);  // MULTI / EXEC / DISCARD / queueing
  void cmd_watch(const Argv& argv);
  void cmd_reset();

  Server& server_;
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
  std::variant<asio::ip::tcp::socket, TlsStream> stream_;
  asio::ip::tcp::socket& socket();
  asio::steady_timer resume_;  // the reader waits on it while paused
  const uint64_t id_;
  const std::chrono::steady_clock::time_point created_;
  std::string peer_;

  resp::RequestParser parser_;
  std::deque<Argv> queue_;  // parsed, not yet started
  std::deque<Slot> slots_;
  uint64_t first_slot_ = 0;  // the sequence of slots_.front()
  uint64_t slot_bytes_ = 0;  // bytes in filled slots not yet moved to out_
  std::string out_;          // ready to write, after what is being written
  std::string writing_;      // in the current async_write
  bool write_in_flight_ = false;

  bool dispatching_ = false;
  bool redispatch_ = false;
  Kind inflight_kind_ = Kind::kLocal;
  size_t inflight_ = 0;  // calls to the node not yet answered
  bool close_after_flush_ = false;
  bool closed_ = false;

  resp::Protocol protocol_ = resp::Protocol::kResp2;
  bool authenticated_ = false;
  bool stale_reads_ = false;  // READONLY: reads served from this node's state, no read index
  std::string name_;
  std::string last_command_;

  bool in_multi_ = false;
  bool multi_failed_ = false;  // a command was refused while queueing: EXEC aborts
  std::vector<Argv> multi_;
  std::map<std::string, uint64_t> watches_;  // key -> revision seen at WATCH

  std::set<std::string> channels_;
  std::set<std::string> patterns_;
};

}  // namespace chorus::server
