// The RESP encoder: a Value as the bytes a client reads, in the protocol the client chose.
//
// RESP2 is a projection of the RESP3 data model (value.h lists each type's RESP2 form):
//
//   type          RESP3                      RESP2
//   simple        +OK\r\n                    +OK\r\n
//   error         -ERR msg\r\n               -ERR msg\r\n
//   integer       :12\r\n                    :12\r\n
//   bulk          $3\r\nfoo\r\n              $3\r\nfoo\r\n
//   null          _\r\n                      $-1\r\n
//   null array    _\r\n                      *-1\r\n
//   array         *2\r\n<a><b>               *2\r\n<a><b>
//   map           %1\r\n<k><v>               *2\r\n<k><v>
//   set           ~2\r\n<a><b>               *2\r\n<a><b>
//   push          >2\r\n<a><b>               *2\r\n<a><b>
//   double        ,1.5\r\n                   $3\r\n1.5\r\n
//   boolean       #t\r\n                     :1\r\n
//   verbatim      =8\r\ntxt:text\r\n         $4\r\ntext\r\n
//
// One-line types (simple, error, double) cannot carry CR or LF without breaking the framing:
// like Redis (addReplyErrorLength), the encoder replaces each with a space.
// Pure: no I/O.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "chorus/resp/value.h"

namespace chorus::resp {

enum class Protocol { kResp2 = 2, kResp3 = 3 };

// Appends the encoding of `v` to `out`. A kMap must have an even number of elements (asserted).
void encode(const Value& v, Protocol protocol, std::string& out);
std::string encode(const Value& v, Protocol protocol);

// Appends `argv` as a client sends a command: an array of bulk strings.
void encode_command(std::span<const std::string_view> argv, std::string& out);
std::string encode_command(std::span<const std::string_view> argv);

// How Redis prints a double reply (addReplyDouble, ZSCORE, RESP3 `,`): printf "%.17g", and
// "inf", "-inf", "nan" spelled out (never "-nan"). 1.1 prints as "1.1000000000000001".
std::string format_double(double d);

// How Redis prints the result of INCRBYFLOAT / HINCRBYFLOAT (util.c ld2string, human mode):
// printf "%.17Lf" with the trailing zeros (and a bare '.') removed, "-0" as "0", and "inf",
// "-inf", "nan" spelled out. 10.5 + 0.1 prints as "10.6"; 3e5 as "300000".
std::string format_long_double(long double d);

}  // namespace chorus::resp
