#include "chorus/kv/proposal.h"

#include "chorus/kv/command_table.h"
#include "chorus/kv/wire.h"

namespace chorus::kv {
namespace {

Bytes to_bytes_of(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return Bytes(p, p + s.size());
}

void write_header(wire::Writer& w, uint8_t kind, uint8_t flags, int64_t now_ms) {
  w.u8(kProposalFormatVersion);
  w.u8(kind);
  w.u8(flags);
  w.fixed64(static_cast<uint64_t>(now_ms));
}

void write_command(wire::Writer& w, const std::vector<std::string>& argv) {
  w.varint(argv.size());
  for (const std::string& arg : argv) w.string(arg);
}

// An argument is at least its length byte.
std::vector<std::string> read_command(wire::Reader& r) {
  const uint64_t argc = r.count(1);
  std::vector<std::string> argv;
  argv.reserve(argc);
  for (uint64_t i = 0; i < argc && r.ok(); ++i) argv.emplace_back(r.string());
  return argv;
}

Status read_header(wire::Reader& r, uint8_t kind, uint8_t allowed_flags, uint8_t* flags,
                   int64_t* now_ms) {
  const uint8_t version = r.u8();
  const uint8_t got_kind = r.u8();
  *flags = r.u8();
  *now_ms = static_cast<int64_t>(r.fixed64());
  if (!r.ok()) return Status::Corruption("kv: truncated header");
  if (version != kProposalFormatVersion) {
    return Status::Corruption("kv: unknown format version " + std::to_string(version));
  }
  if (got_kind != kind) return Status::Corruption("kv: wrong record kind");
  if ((*flags & ~allowed_flags) != 0) return Status::Corruption("kv: unknown flags");
  return Status::Ok();
}

}  // namespace

Bytes encode(const Proposal& proposal) {
  std::string out;
  wire::Writer w(out);
  write_header(w, kKindProposal, proposal.exec ? kProposalFlagExec : 0, proposal.now_ms);
  w.varint(proposal.commands.size());
  for (const auto& argv : proposal.commands) write_command(w, argv);
  w.varint(proposal.watches.size());
  for (const auto& [key, revision] : proposal.watches) {
    w.string(key);
    w.varint(revision);
  }
  return to_bytes_of(out);
}

Result<Proposal> decode_proposal(ByteSpan bytes) {
  wire::Reader r(bytes);
  Proposal p;
  uint8_t flags = 0;
  CHORUS_TRY(read_header(r, kKindProposal, kProposalFlagExec, &flags, &p.now_ms));
  p.exec = (flags & kProposalFlagExec) != 0;
  const uint64_t ncmds = r.count(1);  // a command is at least its argc byte
  p.commands.reserve(ncmds);
  for (uint64_t i = 0; i < ncmds && r.ok(); ++i) p.commands.push_back(read_command(r));
  const uint64_t nwatch = r.count(2);  // key length + revision
  p.watches.reserve(nwatch);
  for (uint64_t i = 0; i < nwatch && r.ok(); ++i) {
    std::string key(r.string());
    const uint64_t revision = r.varint();
    p.watches.emplace_back(std::move(key), revision);
  }
  if (!r.ok()) return Status::Corruption("kv: truncated proposal");
  if (!r.done()) return Status::Corruption("kv: trailing bytes after proposal");
  return p;
}

Bytes encode(const ReadRequest& request) {
  std::string out;
  wire::Writer w(out);
  write_header(w, kKindRead, 0, request.now_ms);
  write_command(w, request.argv);
  return to_bytes_of(out);
}

Result<ReadRequest> decode_read(ByteSpan bytes) {
  wire::Reader r(bytes);
  ReadRequest req;
  uint8_t flags = 0;
  CHORUS_TRY(read_header(r, kKindRead, 0, &flags, &req.now_ms));
  req.argv = read_command(r);
  if (!r.ok()) return Status::Corruption("kv: truncated read request");
  if (!r.done()) return Status::Corruption("kv: trailing bytes after read request");
  return req;
}

Proposal expire_proposal(std::vector<std::string> keys, int64_t now_ms) {
  Proposal p;
  p.now_ms = now_ms;
  std::vector<std::string> argv;
  argv.reserve(keys.size() + 1);
  argv.emplace_back(kExpireCommandName);
  for (std::string& k : keys) argv.push_back(std::move(k));
  p.commands.push_back(std::move(argv));
  return p;
}

}  // namespace chorus::kv
