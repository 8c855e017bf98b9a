#include "chorus/resp/value.h"

namespace chorus::resp {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

void display(const Value& v, const std::string& indent, std::string& out) {
  switch (v.type) {
    case Type::kSimpleString:
      out += v.str;
      break;
    case Type::kError:
      out += "(error) " + v.str;
      break;
    case Type::kInteger:
      out += "(integer) " + std::to_string(v.integer);
      break;
    case Type::kBulkString:
      out += quoted(v.str);
      break;
    case Type::kVerbatim:
      out += v.str;
      break;
    case Type::kNull:
    case Type::kNullArray:
      out += "(nil)";
      break;
    case Type::kDouble:
      out += "(double) " + v.str;
      break;
    case Type::kBoolean:
      out += v.integer ? "(true)" : "(false)";
      break;
    case Type::kArray:
    case Type::kSet:
    case Type::kPush:
    case Type::kMap: {
      if (v.elements.empty()) {
        out += v.type == Type::kMap ? "(empty hash)" : "(empty array)";
        break;
      }
      const bool map = v.type == Type::kMap;
      const size_t n = map ? v.elements.size() / 2 : v.elements.size();
      const std::string width = std::to_string(n);
      for (size_t i = 0; i < n; ++i) {
        std::string label = std::to_string(i + 1);
        label = std::string(width.size() - label.size(), ' ') + label + ") ";
        if (i > 0) out += "\n" + indent;
        out += label;
        const std::string inner = indent + std::string(label.size(), ' ');
        if (map) {
          display(v.elements[2 * i], inner, out);
          out += " => ";
          display(v.elements[2 * i + 1], inner, out);
        } else {
          display(v.elements[i], inner, out);
        }
      }
      break;
    }
  }
}

}  // namespace

std::string to_display(const Value& v) {
  std::string out;
  display(v, "", out);
  return out;
}

}  // namespace chorus::resp
