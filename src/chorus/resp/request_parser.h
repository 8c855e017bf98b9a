// RequestParser: the server side of RESP. Turns the bytes a client sends, cut at arbitrary
// points, into commands (argv vectors), with the semantics and error messages of Redis
// (networking.c processInlineBuffer / processMultibulkBuffer).
//
// Two request forms, chosen by the first byte of each command:
//
//   multibulk (every client library):   *<n>\r\n  then n times  $<len>\r\n<len bytes>\r\n
//   inline (telnet, redis-cli piping):  a line up to \n (a \r before it is dropped), split on
//                                       blanks with Redis's quoting rules (sdssplitargs):
//                                       "double quotes" with \n \r \t \b \a \\ \" \xHH escapes,
//                                       'single quotes' with \' only; a closing quote must be
//                                       followed by a blank or the end of the line; a NUL byte
//                                       ends the line (C string semantics).
//
// `*0`, `*-1` (any count <= 0) and blank inline lines are no command: they are skipped.
// Like Redis, the byte after the \r of a `*`/`$` line and the two bytes after a bulk's data are
// skipped without being checked (every real client sends \n and \r\n there).
//
// The parser keeps its place across calls (like Redis's multibulklen / bulklen): each input byte
// is looked at a bounded number of times, so a 64 MiB bulk string arriving in 16 KiB pieces
// costs O(64 MiB), not O(64 MiB^2 / 16 KiB). A bulk's bytes are copied once, into its argv
// string; a complete command in one input is parsed without any intermediate copy.
//
// Limits (all checked before the bytes they guard are buffered):
//   - a `*` or `$` line longer than max_inline_bytes (before its \r): "too big mbulk count
//     string" / "too big bulk count string"; an inline line longer than it (without its \r\n):
//     "too big inline request";
//   - a count over max_args: "invalid multibulk length"; a length over max_bulk_bytes:
//     "invalid bulk length".
// The parser therefore holds at most one unfinished command: max_args strings of at most
// max_bulk_bytes each (plus a std::string per argument), or one line of at most
// max_inline_bytes + 1 bytes. An inline command is bounded by its line, not by max_args (as in
// Redis). A server that wants a tighter bound per client checks buffered_bytes() between calls.
//
// Use, per connection:
//
//   std::string_view data(read_buffer, n);
//   while (!data.empty()) {
//     size_t used = 0;
//     ParseStatus s = parser.parse(data, used, argv);
//     data.remove_prefix(used);
//     if (s == ParseStatus::kNeedMore) break;  // the read buffer may be reused now
//     if (s == ParseStatus::kError) { reply "-ERR " + parser.error(); close; break; }
//     execute(argv);
//   }
//
// The results do not depend on how the input was cut: parsing a stream in any chunks gives the
// same commands and the same error as parsing it whole (tested over every split point).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::resp {

struct RequestLimits {
  size_t max_bulk_bytes = size_t{64} << 20;  // Redis proto-max-bulk-len (512 MiB there)
  size_t max_args = size_t{1024} * 1024;
  size_t max_inline_bytes = size_t{64} << 10;  // Redis PROTO_INLINE_MAX_SIZE
};

enum class ParseStatus : uint8_t {
  kNeedMore,  // all of the input was taken; call again with more bytes
  kCommand,   // `argv` holds one command; the input past `consumed` is not looked at yet
  kError,     // a protocol error (see error()): reply "-ERR <error()>" and close the connection
};

class RequestParser {
 public:
  explicit RequestParser(RequestLimits limits = {});

  // Parses from the front of `input`, which continues the bytes of earlier calls.
  // - kCommand: `argv` is replaced by the command's arguments (at least one); `consumed` is the
  //   number of bytes of `input` up to the end of that command. Call again with the rest.
  // - kNeedMore: every byte of `input` was taken (`consumed` == input.size()); an unfinished
  //   command is kept inside the parser, so the caller can drop or reuse its buffer.
  // - kError: `consumed` is where parsing stopped. The error is sticky: later calls return
  //   kError again, consuming nothing.
  // `argv` is left alone unless a command is returned; its vector's capacity is reused.
  ParseStatus parse(std::string_view input, size_t& consumed, std::vector<std::string>& argv);

  // "Protocol error: invalid bulk length" and friends, exactly as Redis words them (the client
  // sees "-ERR " in front). Empty unless parse() returned kError.
  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  // Whether the parser is between commands (no unfinished command held).
  bool idle() const { return state_ == State::kStart && !failed(); }
  // Bytes of the unfinished command held inside the parser (its lines and argument bytes).
  size_t buffered_bytes() const { return line_.size() + arg_bytes_; }

  const RequestLimits& limits() const { return limits_; }
  void check_invariants() const;

 private:
  enum class State : uint8_t {
    kStart,       // between commands: the next byte picks the form
    kInline,      // reading an inline line up to \n
    kCount,       // reading "*<n>"
    kBulkHeader,  // reading "$<len>"
    kBulkData,    // copying a bulk's bytes, then skipping its 2-byte trailer
  };
  enum class Line : uint8_t { kComplete, kNeedMore, kTooLong };

  // Takes one line from `input` at `pos` into `line` (a view of `input` when the whole line is
  // there, else of `line_`, which collects the pieces). See the .cc for the exact rules.
  Line take_inline_line(std::string_view input, size_t& pos, std::string_view& line);
  Line take_header_line(std::string_view input, size_t& pos, std::string_view& line);

  // One step each: true when the step produced a complete command or failed (stop the loop).
  bool step_inline(std::string_view input, size_t& pos);
  bool step_count(std::string_view input, size_t& pos);
  bool step_bulk_header(std::string_view input, size_t& pos);
  bool step_bulk_data(std::string_view input, size_t& pos);

  bool fail(std::string message);

  RequestLimits limits_;
  State state_ = State::kStart;
  std::string line_;               // the unfinished line, when a line spans inputs
  std::vector<std::string> args_;  // the unfinished command's arguments
  size_t arg_bytes_ = 0;           // bytes in args_, for buffered_bytes()
  size_t args_left_ = 0;           // kBulkHeader / kBulkData: bulks whose header is still to come
  size_t bulk_left_ = 0;           // kBulkData: data bytes still to come
  size_t trailer_left_ = 0;        // kBulkData: trailer bytes still to skip
  bool command_ready_ = false;     // a step completed a command
  std::string error_;
};

}  // namespace chorus::resp
