#include "resp_test_util.h"

#include <algorithm>

#include "chorus/base/assert.h"

namespace chorus::resp {

std::string escape(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : bytes) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out.push_back(static_cast<char>(c));
        } else {
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        }
    }
  }
  return out + "\"";
}

std::string unescape(std::string_view text) {
  auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out.push_back(text[i]);
      continue;
    }
    const char c = text[++i];
    switch (c) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '0':
        out.push_back('\0');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'x':
        CHORUS_ASSERT(i + 2 < text.size(), "short \\x escape in ", text);
        out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
        i += 2;
        break;
      default:
        out.push_back(c);  // \\ and \" and anything else: the character itself
    }
  }
  return out;
}

namespace {

void describe_elements(const Value& v, std::string& out) {
  for (size_t i = 0; i < v.elements.size(); ++i) {
    if (i > 0) out += v.type == Type::kMap && i % 2 == 1 ? ": " : ", ";
    out += describe(v.elements[i]);
  }
}

}  // namespace

std::string describe(const Value& v) {
  std::string out;
  switch (v.type) {
    case Type::kSimpleString:
      return "simple " + escape(v.str);
    case Type::kError:
      return "error " + escape(v.str);
    case Type::kInteger:
      return "int " + std::to_string(v.integer);
    case Type::kBulkString:
      return "bulk " + escape(v.str);
    case Type::kNull:
      return "null";
    case Type::kNullArray:
      return "null-array";
    case Type::kDouble:
      return "double " + escape(v.str);
    case Type::kBoolean:
      return v.integer == 0   ? "bool false"
             : v.integer == 1 ? "bool true"
                              : "bool " + std::to_string(v.integer);
    case Type::kVerbatim:
      return "verbatim " + escape(v.str);
    case Type::kArray:
      out = "array[";
      break;
    case Type::kMap:
      out = "map{";
      break;
    case Type::kSet:
      out = "set[";
      break;
    case Type::kPush:
      out = "push[";
      break;
  }
  describe_elements(v, out);
  out += v.type == Type::kMap ? "}" : "]";
  return out;
}

Value as_parsed(const Value& v, Protocol protocol) {
  Value out = v;
  for (Value& e : out.elements) e = as_parsed(e, protocol);
  if (protocol == Protocol::kResp3) {
    if (out.type == Type::kNullArray) out.type = Type::kNull;
    return out;
  }
  switch (out.type) {
    case Type::kMap:
    case Type::kSet:
    case Type::kPush:
      out.type = Type::kArray;
      break;
    case Type::kDouble:
    case Type::kVerbatim:
      out.type = Type::kBulkString;
      break;
    case Type::kBoolean:
      out.type = Type::kInteger;
      break;
    default:
      break;
  }
  return out;
}

namespace {

rc::Gen<std::string> gen_bytes() {
  return rc::gen::weightedOneOf<std::string>({
      {3, rc::gen::string<std::string>()},
      {1, rc::gen::container<std::string>(rc::gen::element('\r', '\n', 'a', '$', '*', '\0'))},
  });
}

rc::Gen<std::string> gen_line_text() {
  return rc::gen::map(rc::gen::string<std::string>(), [](std::string s) {
    std::replace_if(
        s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; }, '_');
    return s;
  });
}

rc::Gen<std::vector<Value>> gen_elements(int depth, bool pairs) {
  return rc::gen::mapcat(rc::gen::inRange<size_t>(0, 5), [depth, pairs](size_t n) {
    return rc::gen::container<std::vector<Value>>(pairs ? 2 * n : n, gen_value(depth - 1));
  });
}

rc::Gen<Value> gen_leaf() {
  return rc::gen::weightedOneOf<Value>({
      {2, rc::gen::map(gen_line_text(), Value::simple)},
      {2, rc::gen::map(gen_line_text(), Value::error)},
      {3, rc::gen::map(rc::gen::arbitrary<int64_t>(), Value::integer_of)},
      {4, rc::gen::map(gen_bytes(), Value::bulk)},
      {1, rc::gen::just(Value::null())},
      {1, rc::gen::just(Value::null_array())},
      {1, rc::gen::map(rc::gen::arbitrary<double>(),
                       [](double d) { return Value::dbl(format_double(d)); })},
      {1, rc::gen::map(rc::gen::arbitrary<bool>(), Value::boolean)},
      {1, rc::gen::map(gen_bytes(), Value::verbatim)},
  });
}

}  // namespace

rc::Gen<Value> gen_aggregate(int depth) {
  CHORUS_ASSERT(depth > 0);
  // Lazy: the element generators (and theirs) are built only when an aggregate is drawn.
  auto aggregate = [depth](Value (*make)(std::vector<Value>), bool pairs) {
    return rc::gen::lazy([=] { return rc::gen::map(gen_elements(depth, pairs), make); });
  };
  return rc::gen::weightedOneOf<Value>({
      {2, aggregate(Value::array, false)},
      {1, aggregate(Value::map, true)},
      {1, aggregate(Value::set, false)},
      {1, aggregate(Value::push, false)},
  });
}

rc::Gen<Value> gen_value(int depth) {
  if (depth <= 0) return gen_leaf();
  return rc::gen::weightedOneOf<Value>({{3, gen_leaf()}, {1, gen_aggregate(depth)}});
}

std::string parse_requests(std::string_view input, const std::vector<size_t>& pieces,
                           const RequestLimits& limits) {
  RequestParser parser(limits);
  std::string out;
  std::vector<std::string> argv;
  size_t off = 0;
  for (size_t i = 0; off < input.size(); ++i) {
    const size_t want = pieces.empty() ? 0 : pieces[i % pieces.size()];
    std::string_view piece = input.substr(off, want == 0 ? std::string_view::npos : want);
    off += piece.size();
    while (true) {
      size_t consumed = 0;
      const ParseStatus status = parser.parse(piece, consumed, argv);
      CHORUS_ASSERT(consumed <= piece.size());
      piece.remove_prefix(consumed);
      if (status == ParseStatus::kError) return out + "error " + escape(parser.error()) + "\n";
      parser.check_invariants();
      if (status == ParseStatus::kNeedMore) {
        CHORUS_ASSERT(piece.empty(), "kNeedMore must take the whole input");
        break;
      }
      CHORUS_ASSERT(!argv.empty());
      out += "command";
      for (const std::string& a : argv) out += " " + escape(a);
      out += "\n";
    }
  }
  if (!parser.idle()) out += "partial " + std::to_string(parser.buffered_bytes()) + "\n";
  return out;
}

}  // namespace chorus::resp
