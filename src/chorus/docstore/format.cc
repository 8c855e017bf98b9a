#include "chorus/docstore/format.h"

#include <cstring>

#include "chorus/base/checksum.h"

namespace chorus::docstore {
namespace {

void put_u8(Bytes& out, uint8_t v) { out.push_back(std::byte{v}); }
template <typename T>
void put_le(Bytes& out, T v) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  store_le<T>(out.data() + at, v);
}
void put_str(Bytes& out, std::string_view s) {
  auto b = as_bytes(s);
  out.insert(out.end(), b.begin(), b.end());
}

// Reads fields front to back; every length is checked against the bytes that remain.
class Reader {
 public:
  explicit Reader(ByteSpan in) : in_(in) {}
  bool has(size_t n) const { return in_.size() - pos_ >= n; }
  size_t remaining() const { return in_.size() - pos_; }
  template <typename T>
  bool get(T& v) {
    if (!has(sizeof(T))) return false;
    v = load_le<T>(in_.data() + pos_);
    pos_ += sizeof(T);
    return true;
  }
  bool get_str(size_t n, std::string_view& s) {
    if (!has(n)) return false;
    s = as_string_view(in_.subspan(pos_, n));
    pos_ += n;
    return true;
  }

 private:
  ByteSpan in_;
  size_t pos_ = 0;
};

std::optional<Json> parse_json(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

}  // namespace

Bytes encode_ops_record(const std::vector<Op>& ops) {
  CHORUS_ASSERT(!ops.empty(), "an ops record holds at least one op");
  Bytes out;
  out.reserve(64 * ops.size());
  put_u8(out, kRecordVersion);
  put_u8(out, static_cast<uint8_t>(RecordKind::kOps));
  put_le<uint32_t>(out, static_cast<uint32_t>(ops.size()));
  std::string data, prev;
  for (const Op& op : ops) {
    data = op.data ? op.data->dump() : std::string();
    prev = op.prev ? op.prev->dump() : std::string();
    put_u8(out, static_cast<uint8_t>(op.type));
    put_u8(out, static_cast<uint8_t>((op.data ? 1 : 0) | (op.prev ? 2 : 0)));
    put_le<uint64_t>(out, op.ts_ms);
    put_le<uint64_t>(out, op.clock);
    put_le<uint32_t>(out, static_cast<uint32_t>(op.id.size()));
    put_le<uint32_t>(out, static_cast<uint32_t>(data.size()));
    put_le<uint32_t>(out, static_cast<uint32_t>(prev.size()));
    put_str(out, op.id);
    put_str(out, data);
    put_str(out, prev);
  }
  return out;
}

Bytes encode_undo_record(uint64_t target_clock) {
  Bytes out;
  put_u8(out, kRecordVersion);
  put_u8(out, static_cast<uint8_t>(RecordKind::kUndo));
  put_le<uint64_t>(out, target_clock);
  return out;
}

Result<DecodedRecord> decode_record(ByteSpan data) {
  Reader r(data);
  uint8_t version = 0, kind = 0;
  if (!r.get(version) || !r.get(kind)) return Status::Corruption("op record too short");
  if (version != kRecordVersion) {
    return Status::Corruption("op record version " + std::to_string(version) + " unknown");
  }
  DecodedRecord rec;
  if (kind == static_cast<uint8_t>(RecordKind::kUndo)) {
    rec.kind = RecordKind::kUndo;
    if (!r.get(rec.undo_clock) || r.remaining() != 0) {
      return Status::Corruption("undo record malformed");
    }
    return rec;
  }
  if (kind != static_cast<uint8_t>(RecordKind::kOps)) {
    return Status::Corruption("op record kind " + std::to_string(kind) + " unknown");
  }
  uint32_t count = 0;
  if (!r.get(count) || count == 0 || count > r.remaining() / kOpHeaderBytes) {
    return Status::Corruption("op record count out of range");
  }
  rec.ops.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Op op;
    uint8_t type = 0, has = 0;
    uint32_t id_len = 0, data_len = 0, prev_len = 0;
    if (!r.get(type) || !r.get(has) || !r.get(op.ts_ms) || !r.get(op.clock) || !r.get(id_len) ||
        !r.get(data_len) || !r.get(prev_len)) {
      return Status::Corruption("op header truncated");
    }
    if ((type != 1 && type != 2) || has > 3) return Status::Corruption("op type/flags invalid");
    op.type = static_cast<OpType>(type);
    std::string_view id, d, p;
    if (!r.get_str(id_len, id) || !r.get_str(data_len, d) || !r.get_str(prev_len, p)) {
      return Status::Corruption("op length past the end of the record");
    }
    op.id = std::string(id);
    if (has & 1) {
      if (!(op.data = parse_json(d))) return Status::Corruption("op data is not JSON");
    } else if (data_len != 0) {
      return Status::Corruption("op data length without data flag");
    }
    if (has & 2) {
      if (!(op.prev = parse_json(p))) return Status::Corruption("op prev is not JSON");
    } else if (prev_len != 0) {
      return Status::Corruption("op prev length without prev flag");
    }
    if ((op.type == OpType::kSet) != op.data.has_value()) {
      return Status::Corruption("op data presence does not match its type");
    }
    rec.ops.push_back(std::move(op));
  }
  if (r.remaining() != 0) return Status::Corruption("op record has trailing bytes");
  return rec;
}

Bytes encode_manifest(const Manifest& m) {
  Json body = {{"format", 1},
               {"generation", m.generation},
               {"schema_version", m.schema_version},
               {"snapshot", m.snapshot},
               {"snapshot_records", m.snapshot_records},
               {"max_clock", m.max_clock},
               {"created_ms", m.created_ms},
               {"streams", m.streams},
               {"archives", m.archives}};
  std::string text = body.dump();
  CHORUS_ASSERT(text.size() <= kManifestMaxBodyBytes, "manifest too large");
  Bytes out(kManifestHeaderBytes);
  std::memcpy(out.data(), kManifestMagic, 8);
  store_le<uint32_t>(out.data() + 8, static_cast<uint32_t>(text.size()));
  store_le<uint32_t>(out.data() + 12, 0);
  store_le<uint64_t>(out.data() + 16, checksum64(text));
  put_str(out, text);
  return out;
}

Result<Manifest> decode_manifest(ByteSpan data) {
  if (data.size() < kManifestHeaderBytes || std::memcmp(data.data(), kManifestMagic, 8) != 0) {
    return Status::Corruption("manifest: bad magic or too short");
  }
  uint32_t len = load_le<uint32_t>(data.data() + 8);
  if (len > kManifestMaxBodyBytes || len != data.size() - kManifestHeaderBytes) {
    return Status::Corruption("manifest: body length " + std::to_string(len) + " does not match");
  }
  ByteSpan body = data.subspan(kManifestHeaderBytes);
  if (checksum64(body) != load_le<uint64_t>(data.data() + 16)) {
    return Status::Corruption("manifest: checksum mismatch");
  }
  auto j = parse_json(as_string_view(body));
  if (!j || !j->is_object()) return Status::Corruption("manifest: body is not a JSON object");
  Manifest m;
  try {
    if (j->at("format").get<int>() != 1) return Status::Corruption("manifest: unknown format");
    m.generation = j->at("generation").get<uint64_t>();
    m.schema_version = j->at("schema_version").get<uint32_t>();
    m.snapshot = j->at("snapshot").get<std::string>();
    m.snapshot_records = j->at("snapshot_records").get<uint64_t>();
    m.max_clock = j->at("max_clock").get<uint64_t>();
    m.created_ms = j->at("created_ms").get<uint64_t>();
    m.streams = j->at("streams").get<std::map<std::string, uint64_t>>();
    m.archives = j->at("archives").get<std::map<std::string, std::string>>();
  } catch (const Json::exception& e) {
    return Status::Corruption(std::string("manifest: ") + e.what());
  }
  return m;
}

}  // namespace chorus::docstore
